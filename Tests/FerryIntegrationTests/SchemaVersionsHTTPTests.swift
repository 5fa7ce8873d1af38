import FerryClient
import FerryCore
import FerryTestKit
import FerryTestSupport
import Foundation
import GRDB
import Testing

/// Two versions of an app over real HTTP, with the server's SQLite store: the newer one has a
/// column and a table (with a BLOB column) the older one lacks; the older one upgrades while
/// its store is open, and finds every value.
@Suite struct SchemaVersionsHTTPTests {
    static let newer = """
        CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT, body TEXT, n INTEGER, priority INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE files (id TEXT PRIMARY KEY, name TEXT, data BLOB)
        """
    static let upgrade = """
        ALTER TABLE notes ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE files (id TEXT PRIMARY KEY, name TEXT, data BLOB)
        """

    @Test func anOlderVersionKeepsTheNewerOnesFieldsAndBytesUntilItUpgrades() async throws {
        let folder = try TemporaryFolder()
        try await TestServer.with { server in
            let token = try await server.token("notes")
            let new = try HTTPDevice("new", folder: folder, server: server, token: token, schema: Self.newer)
            let old = try HTTPDevice("old", folder: folder, server: server, token: token)
            try new.store.register(table: "files")
            let bytes = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            try await new.database.write { db in
                try db.execute(sql: "INSERT INTO notes (id, title, priority) VALUES ('a', 'first', 5)")
                try db.execute(sql: "INSERT INTO files (id, name, data) VALUES ('f', 'bytes', ?)", arguments: [bytes])
            }
            _ = try await new.engine.sync()
            _ = try await old.engine.sync()

            // The older version edits and replaces the note; the newer one's field stands.
            try old.write("UPDATE notes SET body = 'edited on the old app' WHERE id = 'a'")
            try old.write("INSERT OR REPLACE INTO notes (id, title, body) VALUES ('a', 'replaced', 'kept')")
            _ = try await old.engine.sync()
            _ = try await new.engine.sync()
            let noteOnNew = try new.database.read { db in try Row.fetchOne(db, sql: "SELECT title, body, priority FROM notes") }
            #expect(noteOnNew?[0] == "replaced")
            #expect(noteOnNew?[1] == "kept")
            #expect(noteOnNew?[2] == 5)

            // The older device upgrades while its store is open, and tells the store.
            try await old.database.write { db in try db.execute(sql: Self.upgrade) }
            #expect(try old.store.refreshSchema() == ["notes"])
            try old.store.register(table: "files")
            let upgraded = try await old.database.read { db in
                (
                    try Int.fetchOne(db, sql: "SELECT priority FROM notes WHERE id = 'a'"),
                    try Data.fetchOne(db, sql: "SELECT data FROM files")
                )
            }
            #expect(upgraded.0 == 5)
            #expect(upgraded.1 == bytes)
            #expect(try await old.store.counts().pending == 0)
            _ = try await old.engine.sync()
            _ = try await new.engine.sync()
            #expect(try old.rows() == new.rows())
            try await old.close()
            try await new.close()
        }
    }
}
