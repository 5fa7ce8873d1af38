import FerryClient
import FerryCore
import FerryTestKit
import GRDB
import Testing

@Suite struct LocalDeltaSinkTests {
    private func openStore(_ scratch: Scratch) throws -> (DatabaseQueue, LocalStore) {
        let database = try DatabaseQueue(path: scratch.path("app.sqlite"))
        return (database, try LocalStore(database))
    }

    private func rows(_ database: DatabaseQueue, table: String = "delta_records") throws -> [String: DeltaRecord] {
        try database.read { db in
            var rows: [String: DeltaRecord] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, etag, data FROM \(table.quotedDatabaseIdentifier)") {
                rows[row[0]] = DeltaRecord(id: row[0], etag: row[1], data: row[2])
            }
            return rows
        }
    }

    @Test func recordsAndTokensLandInTheDatabaseFileAndSurviveReopening() async throws {
        let scratch = try Scratch()
        let source = InMemoryDeltaSource(stream: "https://dav.example/cal/", pageSize: 4)
        for n in 1...9 {
            source.put(id: "/cal/\(n).ics", data: "BEGIN:VCALENDAR\r\nX-N:\(n) Café ☕\r\nEND:VCALENDAR\r\n", etag: "\"\(n)\"")
        }
        do {
            let (_, store) = try openStore(scratch)
            let result = try await DeltaSync(source: source, sink: try store.deltaSink(), clock: ImmediateClock()).run()
            #expect(result.updated == 9)
        }
        let (database, store) = try openStore(scratch)
        #expect(try rows(database) == source.records)
        let columns = try await database.read { db in try db.columns(in: "delta_records").map(\.name) }
        #expect(columns == ["source", "id", "etag", "data", "ref"])
        let sink = try store.deltaSink()
        let tokens = try await sink.tokens(stream: source.stream)
        #expect(tokens != nil)
        let refs = try await database.read { db in try String.fetchAll(db, sql: "SELECT ref FROM delta_records ORDER BY id") }
        #expect(refs.first == LocalDeltaSink.ref(stream: source.stream, id: "/cal/1.ics"))
        #expect(Set(refs).count == 9 && refs.allSatisfy { $0.count == 32 })

        source.remove(id: "/cal/2.ics")
        source.put(id: "/cal/3.ics", data: "changed", etag: "\"3b\"")
        let next = try await DeltaSync(source: source, sink: sink, clock: ImmediateClock()).run()
        #expect(next.updated == 1 && next.deleted == 1 && !next.fullResync)
        #expect(try rows(database) == source.records)
    }

    @Test func aFullResyncSweepsOnlyItsOwnStreamsUnseenRows() async throws {
        let scratch = try Scratch()
        let (database, store) = try openStore(scratch)
        let sink = try store.deltaSink()
        let calendar = InMemoryDeltaSource(stream: "calendar:work", pageSize: 3)
        let contacts = InMemoryDeltaSource(stream: "contacts", pageSize: 3)
        for n in 1...6 { calendar.put(id: "e\(n)", data: "{\"n\":\(n)}") }
        for n in 1...4 { contacts.put(id: "c\(n)", data: "{\"c\":\(n)}") }
        _ = try await DeltaSync(source: calendar, sink: sink, clock: ImmediateClock()).run()
        _ = try await DeltaSync(source: contacts, sink: sink, clock: ImmediateClock()).run()

        calendar.remove(id: "e1")
        calendar.remove(id: "e2")
        calendar.forgetTokens()
        let result = try await DeltaSync(source: calendar, sink: sink, clock: ImmediateClock()).run()
        #expect(result.fullResync && result.tokensRejected && result.swept == 2)
        let left = try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT source, count(*) FROM delta_records GROUP BY source ORDER BY source").map {
                "\($0[0] as String)=\($0[1] as Int)"
            }
        }
        #expect(left == ["calendar:work=4", "contacts=4"])
        let staged = try await database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM ferry_delta_staged") }
        #expect(staged == 0)
    }

    @Test func anInterruptedFullResyncIsRepeatedAndStillSweeps() async throws {
        let scratch = try Scratch()
        let (database, store) = try openStore(scratch)
        let sink = try store.deltaSink(table: "events")
        let source = InMemoryDeltaSource(stream: "s", pageSize: 2)
        for n in 1...6 { source.put(id: "e\(n)", data: "\(n)") }
        _ = try await DeltaSync(source: source, sink: sink, clock: ImmediateClock()).run()
        source.remove(id: "e6")
        source.forgetTokens()
        source.fail(.updated, with: DeltaSourceError(.unavailable, "connection reset"))  // the resumed call: 410 first
        source.fail(.updated, with: DeltaSourceError(.unavailable, "connection reset"))
        // First attempt: the stored token fails with `unavailable` before anything happens.
        await #expect(throws: DeltaSyncError.self) { try await DeltaSync(source: source, sink: sink, clock: ImmediateClock()).run() }
        // Second: 410, the full resync starts, then fails on its first page.
        await #expect(throws: DeltaSyncError.self) { try await DeltaSync(source: source, sink: sink, clock: ImmediateClock()).run() }
        #expect(try rows(database, table: "events").count == 6, "nothing applied or swept by a run that did not finish")
        let result = try await DeltaSync(source: source, sink: sink, clock: ImmediateClock()).run()
        #expect(result.fullResync && result.swept == 1)
        #expect(try rows(database, table: "events") == source.records)
    }

    @Test func aRunThatFailsLeavesTheTableAsItWasAndAFirstOneLeavesNoTable() async throws {
        let scratch = try Scratch()
        let (database, store) = try openStore(scratch)
        let sink = try store.deltaSink()
        let source = InMemoryDeltaSource(stream: "email", pageSize: 2)
        for n in 1...5 { source.put(id: "m\(n)", data: "{\"n\":\(n)}") }
        source.fail(.deleted, with: DeltaSourceError(.unavailable, "HTTP 500", status: 500))
        await #expect(throws: DeltaSyncError.self) { try await DeltaSync(source: source, sink: sink, clock: ImmediateClock()).run() }
        #expect(try await database.read { db in try db.tableExists("delta_records") } == false)

        _ = try await DeltaSync(source: source, sink: sink, clock: ImmediateClock()).run()
        let before = try rows(database)
        #expect(before == source.records)
        for n in 1...4 { source.put(id: "m\(n)", data: "changed") }
        source.remove(id: "m5")
        source.fail(.deleted, with: DeltaSourceError(.unauthorized, "HTTP 401", status: 401))
        await #expect(throws: DeltaSyncError.self) { try await DeltaSync(source: source, sink: sink, clock: ImmediateClock()).run() }
        #expect(try rows(database) == before, "two pages were staged, none applied")

        _ = try await DeltaSync(source: source, sink: sink, clock: ImmediateClock()).run()
        #expect(try rows(database) == source.records)
    }

    @Test func aTrackedDeltaTableSendsOnlyRealChangesToTheOutbox() async throws {
        let scratch = try Scratch()
        let (_, store) = try openStore(scratch)
        let sink = try store.deltaSink()
        try await sink.createTable()
        try store.register(table: "delta_records", keyColumn: "ref")
        let source = InMemoryDeltaSource(stream: "contacts")
        for n in 1...5 { source.put(id: "c\(n)", data: "{\"n\":\(n)}", etag: "1") }
        _ = try await DeltaSync(source: source, sink: sink, clock: ImmediateClock()).run()
        #expect(try await store.counts().pending == 5)

        // The same records again (a full resync of an unchanged source) change nothing.
        source.forgetTokens()
        let again = try await DeltaSync(source: source, sink: sink, clock: ImmediateClock()).run()
        #expect(again.fullResync && again.updated == 5 && again.swept == 0)
        #expect(try await store.counts().pending == 5)

        source.put(id: "c1", data: "{\"n\":100}", etag: "2")
        source.remove(id: "c2")
        _ = try await DeltaSync(source: source, sink: sink, clock: ImmediateClock()).run()
        #expect(try await store.counts().pending == 7)
    }

    @Test func aTableThatCannotHoldDeltaRecordsIsRefusedClearly() async throws {
        let scratch = try Scratch()
        let (database, store) = try openStore(scratch)
        try await database.write { db in try db.execute(sql: "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT)") }
        let error = #expect(throws: LocalStoreError.self) { try store.deltaSink(table: "notes") }
        #expect(error?.code == .unsyncableTable)
        #expect(error?.message.contains("source, etag, data, ref") == true)
        #expect(throws: LocalStoreError.self) { try store.deltaSink(table: "bad name; DROP") }
    }
}
