import FerryClient
import FerryCore
import FerryLog
import FerryTestKit
import Foundation
import GRDB
import Testing

/// Two versions of an app syncing through one server while the newer one changed its schema:
/// a column added, a table added, a column renamed or dropped; and BLOB columns.
@Suite struct SchemaChangeTests {
    /// Version 2 of the app: `notes` gained `priority`.
    static let addPriority = "ALTER TABLE notes ADD COLUMN priority INTEGER NOT NULL DEFAULT 0"
    static let version2 = Device.schema + "; " + addPriority

    /// Opens `name` again after running `migration` on its database, as the next version of
    /// the app does at launch before it opens Ferry.
    static func upgrade(_ name: String, in scratch: Scratch, transport: any SyncTransport, migration: String) throws -> Device {
        let queue = try DatabaseQueue(path: scratch.path("\(name).sqlite"))
        try queue.write { db in try db.execute(sql: migration) }
        try queue.close()
        return try Device(name, in: scratch, transport: transport)
    }

    static func value(_ device: Device, _ sql: String) throws -> String? {
        try device.database.read { db in try DatabaseValue.fetchOne(db, sql: sql).map(\.description) }
    }

    static func shadow(_ device: Device, _ key: String) throws -> [String: JSONValue]? {
        try device.database.read { db in
            try String.fetchOne(db, sql: "SELECT row FROM ferry_shadow WHERE entity = 'notes' AND entity_key = ?", arguments: [key])
        }.flatMap { try JSONValue(parsing: $0).objectValue }
    }

    @Test func aNewerDevicesColumnSurvivesAnOlderDevicesEditsAndFillsInOnUpgrade() async throws {
        let scratch = try Scratch()
        let server = InMemoryTransport()
        var old = try Device("old", in: scratch, transport: server)
        let new = try Device("new", in: scratch, transport: server, extraSchema: Self.version2)

        // The newer version writes first: the older one keeps the field it has no column for.
        try new.write("INSERT INTO notes (id, title, priority) VALUES ('a', 'first', 5)")
        try await settle([old, new])
        #expect(try Self.shadow(old, "a")?["priority"] == .int(5))
        #expect(try Self.value(old, "SELECT title FROM notes WHERE id = 'a'") == "\"first\"")

        // The older one edits, then replaces the row outright (INSERT OR REPLACE): neither loses it.
        try old.write("UPDATE notes SET title = 'edited' WHERE id = 'a'")
        try await settle([old, new])
        #expect(try Self.value(new, "SELECT priority FROM notes WHERE id = 'a'") == "5")
        try old.write("INSERT OR REPLACE INTO notes (id, title, done) VALUES ('a', 'replaced', 1)")
        try await settle([old, new])
        #expect(try Self.value(new, "SELECT title || '/' || priority || '/' || done FROM notes WHERE id = 'a'") == "\"replaced/5/1\"")

        // The older one writes first: the newer one sets the new field, the older one edits again.
        try old.write("INSERT INTO notes (id, title) VALUES ('b', 'from the old app')")
        try await settle([old, new])
        #expect(try Self.value(new, "SELECT priority FROM notes WHERE id = 'b'") == "0")
        try new.write("UPDATE notes SET priority = 3 WHERE id = 'b'")
        try await settle([old, new])
        try old.write("UPDATE notes SET body = 'more' WHERE id = 'b'")
        try await settle([old, new])
        #expect(try Self.value(new, "SELECT body || '/' || priority FROM notes WHERE id = 'b'") == "\"more/3\"")

        // The older device upgrades: its new column shows what the newer one wrote.
        old = try Self.upgrade("old", in: scratch, transport: server, migration: Self.addPriority)
        #expect(try Self.value(old, "SELECT group_concat(id || '=' || priority) FROM notes ORDER BY id") == "\"a=5,b=3\"")
        #expect(try await old.store.counts().pending == 0)
        try old.write("UPDATE notes SET priority = 9 WHERE id = 'a'")
        try await settle([old, new])
        #expect(try old.rows() == new.rows())
        #expect(try Self.value(new, "SELECT priority FROM notes WHERE id = 'a'") == "9")

        // A third device of the old version bootstraps from a snapshot and keeps the field too.
        let manifest = try #require(await server.buildSnapshot(of: "notes", policy: SnapshotPolicy(every: nil, chunkRecords: 1)))
        #expect(manifest.records == 2)
        let third = try Device("third", in: scratch, transport: server)
        let report = try await BootstrapTests.engine(third, transport: server, threshold: 0).sync()
        #expect(report.bootstraps == 1)
        #expect(try Self.shadow(third, "b")?["priority"] == .int(3))
        try third.write("UPDATE notes SET title = 'third' WHERE id = 'b'")
        _ = try await BootstrapTests.engine(third, transport: server, threshold: 0).sync()
        try await settle([old, new])
        #expect(try Self.value(new, "SELECT title || '/' || priority FROM notes WHERE id = 'b'") == "\"third/3\"")
    }

    @Test func aTableAddedByANewerVersionWaitsInTheShadowOfAnOlderOne() async throws {
        let scratch = try Scratch()
        let server = InMemoryTransport()
        var old = try Device("old", in: scratch, transport: server)
        let tags = "CREATE TABLE tags (id TEXT PRIMARY KEY, label TEXT)"
        let new = try Device("new", in: scratch, transport: server, extraSchema: Device.schema + "; " + tags)
        try new.store.register(table: "tags")
        try new.write("INSERT INTO tags (id, label) VALUES ('t1', 'home'), ('t2', 'work')")
        try new.write("INSERT INTO notes (id, title) VALUES ('n', 'note')")
        try await settle([old, new])
        #expect(try old.rows().count == 1)
        #expect(try Self.value(old, "SELECT count(*) FROM ferry_shadow WHERE entity = 'tags'") == "2")

        old = try Self.upgrade("old", in: scratch, transport: server, migration: tags)
        try old.store.register(table: "tags")
        #expect(try Self.value(old, "SELECT group_concat(label) FROM (SELECT label FROM tags ORDER BY id)") == "\"home,work\"")
        #expect(try await old.store.counts().pending == 0)
        try old.write("UPDATE tags SET label = 'house' WHERE id = 't1'")
        try await settle([old, new])
        #expect(try Self.value(new, "SELECT label FROM tags WHERE id = 't1'") == "\"house\"")
    }

    @Test func aRenamedColumnKeepsSyncingAndLosesNothing() async throws {
        let scratch = try Scratch()
        let server = InMemoryTransport()
        let old = try Device("old", in: scratch, transport: server)
        var new = try Device("new", in: scratch, transport: server)
        try old.write("INSERT INTO notes (id, title, body) VALUES ('a', 'title', 'body')")
        try await settle([old, new])

        // SQLite rewrites the triggers' column references on a rename; the store rebuilds
        // them under the new name when it opens.
        new = try Self.upgrade("new", in: scratch, transport: server, migration: "ALTER TABLE notes RENAME COLUMN body TO text")
        #expect(try new.store.syncedTables().first?.columns == ["id", "title", "text", "n", "done"])
        #expect(try Self.value(new, "SELECT text FROM notes WHERE id = 'a'") == "\"body\"")
        try new.write("UPDATE notes SET text = 'new text', title = 'renamed' WHERE id = 'a'")
        try old.write("UPDATE notes SET body = 'old body' WHERE id = 'a'")
        try await settle([old, new])

        // Each version shows its own column; the other's field is kept in the shadow, so the
        // record holds both and a later upgrade finds every value.
        #expect(try Self.value(old, "SELECT title || '/' || body FROM notes WHERE id = 'a'") == "\"renamed/old body\"")
        #expect(try Self.value(new, "SELECT title || '/' || text FROM notes WHERE id = 'a'") == "\"renamed/new text\"")
        let record = try #require(try Self.shadow(new, "a"))
        #expect(record["body"] == .string("old body"))
        #expect(record["text"] == .string("new text"))
        #expect(try Self.shadow(old, "a") == record)
    }

    @Test func aDeclaredRenameKeepsTheOldAndTheNewVersionInStep() async throws {
        let scratch = try Scratch()
        let server = InMemoryTransport()
        let old = try Device("old", in: scratch, transport: server)
        var new = try Device("new", in: scratch, transport: server)
        try old.write("INSERT INTO notes (id, title, body) VALUES ('a', 'title', 'body'), ('b', 'title', 'second')")
        try await settle([old, new])
        new = try Self.upgrade("new", in: scratch, transport: server, migration: "ALTER TABLE notes RENAME COLUMN body TO text")
        #expect(throws: LocalStoreError.self) { try new.store.register(table: "notes", renamedColumns: ["text": "title"]) }
        #expect(throws: LocalStoreError.self) { try new.store.register(table: "notes", renamedColumns: ["nope": "body"]) }
        try new.store.register(table: "notes", renamedColumns: ["text": "body"])

        // Each version sees the other's edits of the column.
        try new.write("UPDATE notes SET text = 'from the new app' WHERE id = 'a'")
        try old.write("UPDATE notes SET body = 'from the old app' WHERE id = 'b'")
        try await settle([old, new])
        #expect(try Self.value(old, "SELECT body FROM notes WHERE id = 'a'") == "\"from the new app\"")
        #expect(try Self.value(new, "SELECT text FROM notes WHERE id = 'b'") == "\"from the old app\"")
        try new.write("INSERT INTO notes (id, title, text) VALUES ('c', 'new row', 'new text')")
        try await settle([old, new])
        #expect(try Self.value(old, "SELECT body FROM notes WHERE id = 'c'") == "\"new text\"")

        // Both edit the column offline: one conflict, and both end with the same value.
        try new.write("UPDATE notes SET text = 'new wins?' WHERE id = 'a'")
        try old.write("UPDATE notes SET body = 'old wins?' WHERE id = 'a'")
        try await new.sync()
        try await old.sync()
        try await settle([old, new])
        let onOld = try Self.value(old, "SELECT body FROM notes WHERE id = 'a'")
        #expect(onOld == "\"old wins?\"")
        #expect(try Self.value(new, "SELECT text FROM notes WHERE id = 'a'") == onOld)
        #expect(try old.store.conflicts().count == 1)

        // A new install of the new version, from the log, shows the column too.
        let fresh = try Device(
            "fresh",
            in: scratch,
            transport: server,
            extraSchema: "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT, text TEXT, n INTEGER, done INTEGER NOT NULL DEFAULT 0)"
        )
        try fresh.store.register(table: "notes", renamedColumns: ["text": "body"])
        try await fresh.sync()
        #expect(try fresh.rows() == new.rows())
    }

    @Test func aDroppedColumnNeedsChangeSchemaAndKeepsSyncing() async throws {
        let scratch = try Scratch()
        let server = InMemoryTransport()
        let device = try Device("device", in: scratch, transport: server)
        let peer = try Device("peer", in: scratch, transport: server)
        try device.write("INSERT INTO notes (id, title, body) VALUES ('a', 'title', 'body')")
        try await settle([device, peer])

        // SQLite refuses to drop a column the capture triggers name…
        #expect(throws: DatabaseError.self) {
            try device.write("ALTER TABLE notes DROP COLUMN body")
        }
        // …so the migration runs inside LocalStore.changeSchema, which puts them back.
        var migrator = DatabaseMigrator()
        migrator.registerMigration("drop body") { db in
            try LocalStore.changeSchema(db) { try db.alter(table: "notes") { $0.drop(column: "body") } }
        }
        try migrator.migrate(device.database)
        try device.write("UPDATE notes SET title = 'still syncing' WHERE id = 'a'")
        try await settle([device, peer])
        #expect(try Self.value(peer, "SELECT title || '/' || body FROM notes WHERE id = 'a'") == "\"still syncing/body\"")
        #expect(try device.store.syncedTables().first?.columns == ["id", "title", "n", "done"])
    }

    @Test func valuesWrittenIntoANewColumnBeforeTheTriggersKnewItArePushed() async throws {
        let scratch = try Scratch()
        let server = InMemoryTransport()
        let device = try Device("device", in: scratch, transport: server)
        let peer = try Device("peer", in: scratch, transport: server, extraSchema: Self.version2)
        try device.write("INSERT INTO notes (id, title) VALUES ('a', 'one'), ('b', 'two')")
        try await settle([device, peer])

        // Another process migrates and writes at once, while this store is open with the old
        // triggers: its insert is captured without the new column, its update not at all.
        let other = try DatabaseQueue(path: try #require(device.path))
        try await other.write { db in
            try db.execute(sql: Self.addPriority)
            try db.execute(sql: "INSERT INTO notes (id, title, priority) VALUES ('c', 'three', 7)")
            try db.execute(sql: "UPDATE notes SET priority = 2 WHERE id = 'a'")
        }
        try other.close()
        #expect(try await device.store.refreshSchemaIfChanged() == ["notes"])
        #expect(try await device.store.refreshSchemaIfChanged() == [])
        try await settle([device, peer])
        #expect(try Self.value(peer, "SELECT group_concat(id || '=' || priority) FROM notes ORDER BY id") == "\"a=2,b=0,c=7\"")
        #expect(try device.rows() == peer.rows())
    }

    @Test func aSyncNoticesASchemaChangeOfAnotherProcess() async throws {
        let scratch = try Scratch()
        let server = InMemoryTransport()
        let device = try Device("device", in: scratch, transport: server)
        let peer = try Device("peer", in: scratch, transport: server, extraSchema: Self.version2)
        let other = try DatabaseQueue(path: try #require(device.path))
        try await other.write { db in try db.execute(sql: Self.addPriority) }
        try device.write("INSERT INTO notes (id, title, priority) VALUES ('late', 'x', 4)")
        try await settle([device, peer])
        #expect(try Self.value(peer, "SELECT priority FROM notes WHERE id = 'late'") == "4")
        try other.close()
    }

    @Test func blobColumnsSyncByteForByte() async throws {
        let scratch = try Scratch()
        let server = InMemoryTransport()
        let schema = "CREATE TABLE files (id TEXT PRIMARY KEY, name TEXT, data BLOB, thumb BLOB)"
        let a = try Device("a", in: scratch, transport: server, extraSchema: Device.schema + "; " + schema)
        let b = try Device("b", in: scratch, transport: server, extraSchema: Device.schema + "; " + schema)
        for device in [a, b] { try device.store.register(table: "files") }
        let every = Data((0...255).map(UInt8.init))
        try await a.database.write { db in
            try db.execute(sql: "INSERT INTO files (id, name, data, thumb) VALUES ('f', 'all bytes', ?, ?)", arguments: [every, Data()])
        }
        try await settle([a, b])
        let row = try #require(try b.database.read { db in try Row.fetchOne(db, sql: "SELECT data, thumb, typeof(thumb) FROM files") })
        #expect(row[0] as Data == every)
        #expect(row[1] as Data == Data())
        #expect(row[2] as String == "blob")

        // On the wire, bytes are {"$base64": "…"}.
        let logged = try #require(server.log(of: "notes").first { $0.mutation.entity == "files" }?.mutation.payload)
        let payload = try JSONValue(parsing: String(decoding: logged, as: UTF8.self))
        #expect(payload.objectValue?["data"] == .object(["$base64": .string(every.base64EncodedString())]))

        // A patch of one blob, and a text that looks like hex or base64 stays text.
        let patched = Data(repeating: 0xFE, count: 70_000)
        try await b.database.write { db in
            try db.execute(sql: "UPDATE files SET data = ?, name = 'QUJD' WHERE id = 'f'", arguments: [patched])
        }
        try await settle([a, b])
        let after = try #require(try a.database.read { db in try Row.fetchOne(db, sql: "SELECT data, name, typeof(name) FROM files") })
        #expect(after[0] as Data == patched)
        #expect(after[1] as String == "QUJD")
        #expect(after[2] as String == "text")

        // A client in another language that sends a malformed $base64 value does not stop the
        // pull: the object is kept as its JSON text.
        _ = try await server.push(
            PushRequest(
                space: "notes",
                deviceID: "d-other",
                sessionID: "s-other",
                mutations: [
                    MutationInput(
                        clientActionID: 1,
                        entity: "files",
                        entityKey: "g",
                        op: .upsert,
                        payload: .object(["id": .string("g"), "data": .object(["$base64": .string("not base64!")])]),
                        baseSeq: 0,
                        clientTimestamp: "2026-12-01T00:00:00Z"
                    )
                ]
            )
        )
        try await a.sync()
        #expect(try Self.value(a, "SELECT data FROM files WHERE id = 'g'") == "\"{\\\"$base64\\\":\\\"not base64!\\\"}\"")
        #expect(try a.store.deadLetters().isEmpty)
    }
}
