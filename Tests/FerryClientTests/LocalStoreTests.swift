import FerryClient
import FerryCore
import FerryTestKit
import Foundation
import GRDB
import Testing

@Suite struct CaptureTests {
    @Test func writesAreCapturedAsUpsertPatchAndDelete() throws {
        let device = try Device("a", transport: InMemoryTransport())
        try device.write("INSERT INTO notes (id, title, body, n) VALUES ('n1', 'Groceries', 'milk', 1)")
        try device.write("UPDATE notes SET body = 'milk, eggs' WHERE id = 'n1'")
        try device.write("UPDATE notes SET body = 'milk, eggs' WHERE id = 'n1'")  // no change: nothing captured
        try device.write("UPDATE notes SET title = NULL, n = 2 WHERE id = 'n1'")
        try device.write("DELETE FROM notes WHERE id = 'n1'")
        let outbox = try device.outbox()
        #expect(outbox.map(\.op) == ["upsert", "patch", "patch", "delete"])
        #expect(outbox.allSatisfy { $0.key == "n1" && $0.state == "pending" })
        let upsert = try JSONDecoder().decode(JSONValue.self, from: Data(outbox[0].payload!.utf8))
        #expect(
            upsert == .object(["id": .string("n1"), "title": .string("Groceries"), "body": .string("milk"), "n": .int(1), "done": .int(0)])
        )
        let patch = try JSONDecoder().decode(JSONValue.self, from: Data(outbox[1].payload!.utf8))
        #expect(patch == .object(["body": .string("milk, eggs")]))
        let second = try JSONDecoder().decode(JSONValue.self, from: Data(outbox[2].payload!.utf8))
        #expect(second == .object(["title": .null, "n": .int(2)]))
        #expect(outbox[3].payload == nil)
    }

    @Test func aChangedKeyIsADeleteAndAnUpsert() throws {
        let device = try Device("a", transport: InMemoryTransport())
        try device.write("INSERT INTO notes (id, title) VALUES ('old', 'x')")
        try device.write("UPDATE notes SET id = 'new' WHERE id = 'old'")
        #expect(try device.outbox().map { "\($0.op) \($0.key)" } == ["upsert old", "delete old", "upsert new"])
    }

    @Test func existingRowsAreBackfilledOnceAndAppliedChangesAreNotCaptured() async throws {
        let database = try DatabaseQueue()
        try await database.write { db in
            try db.execute(sql: Device.schema)
            try db.execute(sql: "INSERT INTO notes (id, title) VALUES ('a', 'one'), ('b', 'two')")
        }
        let store = try LocalStore(database)
        try store.register(table: "notes")
        try store.register(table: "notes")  // again: no second copy
        let ops = try await database.read { db in try String.fetchAll(db, sql: "SELECT op || ' ' || entity_key FROM ferry_outbox") }
        #expect(ops == ["upsert a", "upsert b"])

        let server = InMemoryTransport()
        let engine = SyncEngine(store: store, transport: server, space: "notes")
        let report = try await engine.sync()
        #expect(report.pushed == 2)
        #expect(server.log(of: "notes").count == 2)
        #expect(try await store.counts().pending == 0)

        // A second device pulls them: applying does not capture them back.
        let other = try Device("other", transport: server)
        try await other.sync()
        #expect(try other.outbox().isEmpty)
        #expect(try other.rows().map { $0["title"] } == ["\"one\"", "\"two\""])
    }

    @Test func registrationRefusesTablesItCannotKey() throws {
        let database = try DatabaseQueue()
        try database.write { db in
            try db.execute(sql: "CREATE TABLE logs (line TEXT); CREATE TABLE pairs (a TEXT, b TEXT, PRIMARY KEY (a, b))")
        }
        let store = try LocalStore(database)
        let missing = #expect(throws: LocalStoreError.self) { try store.register(table: "missing") }
        #expect(missing?.code == .unknownTable)
        for (table, key) in [("logs", nil), ("pairs", nil), ("logs", "line"), ("logs", "nope"), ("1logs", nil)] as [(String, String?)] {
            let error = #expect(throws: LocalStoreError.self) { try store.register(table: table, keyColumn: key) }
            #expect(error?.code == .unsyncableTable, "\(table) \(key ?? "")")  // no key, or not unique, or no such column or name
        }
    }

    @Test func deviceIDStaysAndSessionIDChanges() throws {
        let database = try DatabaseQueue()
        let first = try LocalStore(database)
        let second = try LocalStore(database)
        #expect(first.deviceID == second.deviceID)
        #expect(first.sessionID != second.sessionID)
    }
}

@Suite struct ApplyTests {
    private func page(_ mutations: [LoggedMutation], latest: Int64? = nil, logID: String = "log-1") -> PullResponse {
        let head = latest ?? mutations.last?.seq ?? 0
        return PullResponse(mutations: mutations, hasMore: false, latestSeq: head, headSeq: head, logID: logID)
    }

    private func remote(
        _ seq: Int64,
        _ key: String,
        _ op: MutationOp,
        _ payload: JSONValue?,
        device: String = "other"
    )
        -> LoggedMutation
    {
        LoggedMutation(
            seq: seq,
            deviceID: device,
            sessionID: "s",
            mutation: MutationInput(clientActionID: seq, entity: "notes", entityKey: key, op: op, payload: payload),
            occurredAtMilliseconds: 1_763_856_000_000
        )
    }

    @Test func aPageAppliedTwiceChangesNothingTheSecondTime() throws {
        let device = try Device("a", transport: InMemoryTransport())
        let first = page([
            remote(1, "n1", .upsert, .object(["id": .string("n1"), "title": .string("a"), "n": .int(1)])),
            remote(2, "n1", .patch, .object(["n": .int(2), "title": .null])),
            remote(3, "n2", .upsert, .object(["id": .string("n2"), "title": .string("b")])),
            remote(4, "n2", .delete, nil),
        ])
        let report = try device.store.apply(first, space: "notes")
        #expect(report.applied == 4)
        let after = try device.rows()
        #expect(after.count == 1)
        #expect(after[0]["n"] == "2")
        #expect(after[0]["title"] == "NULL")
        #expect(try device.store.apply(first, space: "notes").applied == 0)
        #expect(try device.rows() == after)
        #expect(try device.store.cursor(space: "notes").lastSeq == 4)
        #expect(try device.outbox().isEmpty)
    }

    @Test func aPoisonMutationGoesToTheDeadLettersAndTheCursorMovesOn() throws {
        let device = try Device(
            "a",
            transport: InMemoryTransport(),
            extraSchema:
                "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT CHECK (length(title) < 10), body TEXT, n INTEGER, done INTEGER NOT NULL DEFAULT 0)"
        )
        try device.store.apply(
            page([
                remote(1, "ok", .upsert, .object(["id": .string("ok"), "title": .string("short")])),
                remote(2, "bad", .upsert, .object(["id": .string("bad"), "title": .string("far too long a title")])),
                remote(3, "ok2", .upsert, .object(["id": .string("ok2"), "title": .string("fine")])),
                remote(4, "weird", MutationOp(rawValue: "frobnicate"), .object([:])),
            ]),
            space: "notes"
        )
        #expect(try device.rows().map { $0["id"] } == ["\"ok\"", "\"ok2\""])
        let letters = try device.store.deadLetters()
        #expect(letters.map(\.seq) == [2, 4])
        #expect(letters[0].error.contains("CHECK"))
        #expect(try device.store.cursor(space: "notes").lastSeq == 4)
        #expect(try device.store.counts().deadLetters == 2)
    }

    /// A page long enough for several multi-row statements, with a refused row in the middle,
    /// records written twice, rows of another shape and a delete in between: the rows are
    /// those of applying the mutations one by one.
    @Test func aLongPageIsWrittenInOrderAndItsPoisonRowAloneIsRefused() throws {
        let device = try Device(
            "a",
            transport: InMemoryTransport(),
            extraSchema:
                "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT CHECK (length(title) < 10), body TEXT, n INTEGER, done INTEGER NOT NULL DEFAULT 0)"
        )
        var mutations: [LoggedMutation] = []
        for seq in Int64(1)...260 {
            let key = "k\(seq % 200)"  // keys 60…199 are written twice
            var fields: [String: JSONValue] = ["id": .string(key), "title": .string("t\(seq)"), "n": .int(seq)]
            if seq % 7 == 0 { fields["body"] = .string("b\(seq)") }  // another shape
            if seq == 57 { fields["title"] = .string("far too long a title") }
            mutations.append(remote(seq, key, .upsert, .object(fields)))
        }
        mutations[149] = remote(150, "k61", .delete, nil)  // deletes the row written at seq 61
        try device.store.apply(page(mutations), space: "notes")

        var expected: [String: [String: String]] = [:]
        for mutation in mutations where mutation.seq != 57 {
            if mutation.op == .delete {
                expected[mutation.entityKey] = nil
                continue
            }
            var row = ["id": "\"\(mutation.entityKey)\"", "done": "0", "body": "NULL"]
            for (field, value) in mutation.payload?.objectValue ?? [:] {
                row[field] = String(decoding: value.serialized(), as: UTF8.self)
            }
            expected[mutation.entityKey] = row
        }
        let rows = try device.rows()
        #expect(rows.count == expected.count)
        for row in rows {
            #expect(row == expected[row["id"]!.trimmingCharacters(in: CharacterSet(charactersIn: "\""))], "\(row)")
        }
        #expect(expected["k61"] == nil && expected["k60"] != nil)
        #expect(try device.store.deadLetters().map(\.seq) == [57])
        #expect(try device.store.cursor(space: "notes").lastSeq == 260)
    }

    @Test func aFailureInsideTheTransactionLeavesNothingHalfApplied() throws {
        let scratch = try Scratch()
        var device: Device? = try Device("a", in: scratch, transport: InMemoryTransport())
        // A trigger that fails like a dying disk in the middle of the page.
        try device!.database.write { db in
            db.add(
                function: DatabaseFunction("crash", argumentCount: 0, pure: false) { _ in
                    throw DatabaseError(resultCode: .SQLITE_IOERR, message: "simulated crash")
                }
            )
            try db.execute(sql: "CREATE TRIGGER crash_on_write AFTER INSERT ON notes WHEN NEW.title = 'crash' BEGIN SELECT crash(); END")
        }
        let mutations = [
            remote(1, "n1", .upsert, .object(["id": .string("n1"), "title": .string("fine")])),
            remote(2, "n2", .upsert, .object(["id": .string("n2"), "title": .string("crash")])),
            remote(3, "n3", .upsert, .object(["id": .string("n3"), "title": .string("later")])),
        ]
        #expect(throws: DatabaseError.self) { try device!.store.apply(page(mutations), space: "notes") }
        #expect(try device!.rows().isEmpty)
        #expect(try device!.store.cursor(space: "notes").lastSeq == 0)

        // Reopen: the store resumes from its cursor and ends with every row.
        try device!.database.write { db in try db.execute(sql: "DROP TRIGGER crash_on_write") }
        let path = try #require(device!.path)
        device = nil
        let database = try DatabaseQueue(path: path)
        let store = try LocalStore(database)
        try store.apply(page(mutations), space: "notes")
        #expect(try Convergence.rows(of: "notes", keyColumn: "id", in: database).map { $0["id"] } == ["\"n1\"", "\"n2\"", "\"n3\""])
        #expect(try store.cursor(space: "notes").lastSeq == 3)
    }

    @Test func pendingLocalChangesSurviveOlderRemoteChanges() throws {
        let device = try Device("a", transport: InMemoryTransport())
        try device.store.apply(
            page([remote(1, "n1", .upsert, .object(["id": .string("n1"), "title": .string("v1"), "body": .string("b1")]))]),
            space: "notes"
        )
        try device.write("UPDATE notes SET title = 'mine' WHERE id = 'n1'")
        // Another device changes the body and the title; the body is not in conflict.
        try device.store.apply(
            page([remote(2, "n1", .patch, .object(["title": .string("theirs"), "body": .string("b2")]))]),
            space: "notes"
        )
        let row = try #require(try device.rows().first)
        #expect(row["title"] == "\"mine\"")
        #expect(row["body"] == "\"b2\"")
        let conflicts = try device.store.conflicts()
        #expect(conflicts.count == 1)
        #expect(conflicts.first?.resolution == .localWins)
        #expect(conflicts.first?.remoteSeq == 2)
        #expect(conflicts.first?.local?.objectValue?["title"] == .string("mine"))
        #expect(conflicts.first?.remote?.objectValue?["title"] == .string("theirs"))
        // A remote change to another field only is no conflict.
        try device.store.apply(page([remote(3, "n1", .patch, .object(["n": .int(7)]))]), space: "notes")
        #expect(try device.store.conflicts().count == 1)
        // The device's own echo is never a conflict.
        let echo = LoggedMutation(
            seq: 4,
            deviceID: device.store.deviceID,
            sessionID: device.store.sessionID,
            mutation: MutationInput(
                clientActionID: 1,
                entity: "notes",
                entityKey: "n1",
                op: .patch,
                payload: .object(["title": .string("mine")]),
                baseSeq: 1
            ),
            occurredAtMilliseconds: 1_763_856_000_000
        )
        try device.store.apply(page([echo]), space: "notes")
        #expect(try device.store.conflicts().count == 1)
        #expect(try device.outbox().isEmpty)
        #expect(try device.rows().first?["title"] == "\"mine\"")
    }

    @Test func anAcknowledgedChangeIsNotOverwrittenByAnOlderRemoteOne() async throws {
        let server = InMemoryTransport()
        let a = try Device("a", transport: server)
        let b = try Device("b", transport: server)
        try a.write("INSERT INTO notes (id, title) VALUES ('n1', 'first')")
        try await a.sync()
        try await b.sync()
        // B writes (seq 2), then A writes and pushes (seq 3) without pulling.
        try b.write("UPDATE notes SET title = 'b' WHERE id = 'n1'")
        var report = SyncEngine.Report()
        try await b.engine.push(into: &report)
        try a.write("UPDATE notes SET title = 'a' WHERE id = 'n1'")
        try await a.engine.push(into: &report)
        // A's change is acknowledged (seq 3); pulling B's older seq 2 must not overwrite it.
        try await a.engine.pull(wait: nil, into: &report)
        #expect(try a.rows().first?["title"] == "\"a\"")
        try await b.sync()
        #expect(try a.rows() == b.rows())
    }

    @Test func remoteWinsDropsConflictingLocalFieldsAndKeepsTheRest() async throws {
        let server = InMemoryTransport()
        let a = try Device("a", transport: server, policy: .remoteWins)
        let b = try Device("b", transport: server)
        try b.write("INSERT INTO notes (id, title, body) VALUES ('n1', 't', 'b')")
        try await b.sync()
        try await a.sync()
        try a.write("UPDATE notes SET title = 'a-title', body = 'a-body' WHERE id = 'n1'")
        try b.write("UPDATE notes SET title = 'b-title' WHERE id = 'n1'")
        try await b.sync()
        try await settle([a, b])
        #expect(try a.rows().first?["title"] == "\"b-title\"")
        #expect(try a.rows().first?["body"] == "\"a-body\"")
        #expect(try a.rows() == b.rows())
        #expect(try a.store.conflicts().first?.resolution == .remoteWins)
    }

    @Test func aCustomResolverMergesAndEveryDeviceGetsTheMerge() async throws {
        let server = InMemoryTransport()
        let merge: ConflictResolver = { context in
            var merged = context.remote ?? [:]
            let local = context.local?["title"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? ""
            let remote = context.remote?["title"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? ""
            merged["title"] = .string([local, remote].sorted().joined(separator: " + "))
            return merged
        }
        let a = try Device("a", transport: server, policy: .custom(merge))
        let b = try Device("b", transport: server)
        try b.write("INSERT INTO notes (id, title) VALUES ('n1', 't')")
        try await b.sync()
        try await a.sync()
        try a.write("UPDATE notes SET title = 'apple' WHERE id = 'n1'")
        try b.write("UPDATE notes SET title = 'banana' WHERE id = 'n1'")
        try await b.sync()
        try await settle([a, b])
        #expect(try a.rows().first?["title"] == "\"apple + banana\"")
        #expect(try a.rows() == b.rows())
        #expect(try a.store.conflicts().first?.resolution == .merged)
    }
}
