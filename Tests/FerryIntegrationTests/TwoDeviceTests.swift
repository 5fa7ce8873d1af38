import FerryClient
import FerryCore
import FerryHTTP
import FerryServer
import FerryTestKit
import FerryTestSupport
import Foundation
import GRDB
import Testing

/// A device of these tests: its own SQLite file, a local store, and an HTTP transport to a
/// real server on loopback.
struct HTTPDevice {
    let database: DatabaseQueue
    let store: LocalStore
    let transport: any SyncTransport
    let http: HTTPTransport
    let engine: SyncEngine

    static let schema = "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT, body TEXT, n INTEGER)"

    init(
        _ name: String,
        folder: TemporaryFolder,
        server: TestServer,
        token: String,
        schema: String = Self.schema,
        wrap: (any SyncTransport) -> any SyncTransport = { $0 }
    )
        throws
    {
        database = try DatabaseQueue(path: folder.path("\(name).sqlite"))
        try database.write { db in try db.execute(sql: schema) }
        store = try LocalStore(database)
        try store.register(table: "notes")
        http = HTTPTransport(configuration: HTTPTransportConfiguration(baseURL: server.http.baseURL, accessToken: token))
        transport = wrap(http)
        engine = SyncEngine(store: store, transport: transport, space: "notes", pushBatchSize: 7, pullLimit: 5)
    }

    func write(_ sql: String) throws {
        try database.write { db in try db.execute(sql: sql) }
    }

    func rows() throws -> [[String: String]] {
        try Convergence.rows(of: "notes", keyColumn: "id", in: database)
    }

    func close() async throws {
        try await http.shutdown()
    }
}

@Suite struct TwoDeviceTests {
    /// Both devices edit offline, then sync in either order: the tables end identical and
    /// the conflicts are recorded.
    @Test(arguments: [true, false])
    func offlineEditsConverge(aFirst: Bool) async throws {
        let folder = try TemporaryFolder()
        try await TestServer.with { server in
            let token = try await server.token("notes")
            let a = try HTTPDevice("a", folder: folder, server: server, token: token)
            let b = try HTTPDevice("b", folder: folder, server: server, token: token)
            // A shared starting point.
            for i in 1...20 { try a.write("INSERT INTO notes (id, title, body, n) VALUES ('n\(i)', 'title \(i)', 'body \(i)', \(i))") }
            _ = try await a.engine.sync()
            _ = try await b.engine.sync()
            #expect(try b.rows() == a.rows())

            // Offline edits on both sides.
            try a.write("INSERT INTO notes (id, title) VALUES ('a-new', 'from a')")
            try b.write("INSERT INTO notes (id, title) VALUES ('b-new', 'from b')")
            try a.write("UPDATE notes SET title = 'a title' WHERE id = 'n1'")  // different fields of n1
            try b.write("UPDATE notes SET body = 'b body' WHERE id = 'n1'")
            try a.write("UPDATE notes SET title = 'a wins?' WHERE id = 'n2'")  // the same field of n2
            try b.write("UPDATE notes SET title = 'b wins?' WHERE id = 'n2'")
            try a.write("DELETE FROM notes WHERE id = 'n3'")
            try b.write("UPDATE notes SET n = 333 WHERE id = 'n3'")  // updated on b, deleted on a
            try b.write("DELETE FROM notes WHERE id = 'n4'")
            try a.write("UPDATE notes SET n = n + 100 WHERE id > 'n5'")

            let (first, second) = aFirst ? (a, b) : (b, a)
            for _ in 0..<2 {
                _ = try await first.engine.sync()
                _ = try await second.engine.sync()
            }
            _ = try await first.engine.sync()

            let rowsA = try a.rows()
            #expect(rowsA == (try b.rows()))
            let n1 = try #require(rowsA.first { $0["id"] == "\"n1\"" })
            #expect(n1["title"] == "\"a title\"")
            #expect(n1["body"] == "\"b body\"")
            #expect(rowsA.contains { $0["id"] == "\"a-new\"" })
            #expect(rowsA.contains { $0["id"] == "\"b-new\"" })
            #expect(!rowsA.contains { $0["id"] == "\"n4\"" })
            // The device that synced second wrote n2 last in server order.
            #expect(rowsA.first { $0["id"] == "\"n2\"" }?["title"] == (aFirst ? "\"b wins?\"" : "\"a wins?\""))
            // The same-field edit of n2 was recorded as a conflict on the device that synced second.
            let conflicts = try second.store.conflicts()
            #expect(conflicts.contains { $0.entityKey == "n2" })
            #expect(try await a.store.counts().pending == 0)
            #expect(try await b.store.counts().pending == 0)
            try await a.close()
            try await b.close()
        }
    }

    /// The answer to a push is lost after the server stored it: the retry stores nothing twice.
    @Test func aLostPushAnswerStoresNothingTwice() async throws {
        let folder = try TemporaryFolder()
        try await TestServer.with { server in
            let token = try await server.token("notes")
            var faults: FaultInjectingTransport?
            let a = try HTTPDevice("a", folder: folder, server: server, token: token) { base in
                let wrapper = FaultInjectingTransport(base)
                faults = wrapper
                return wrapper
            }
            for i in 1...10 { try a.write("INSERT INTO notes (id, title) VALUES ('k\(i)', 't')") }
            faults?.inject(.loseAnswer, on: .push)
            await #expect(throws: SyncTransportError.self) { _ = try await a.engine.sync() }
            #expect(try await server.storedMutationCount() == 7)  // the first batch reached the server
            #expect(try await a.store.counts().pending == 10)  // but nothing is confirmed without an answer
            _ = try await a.engine.sync()
            #expect(try await server.storedMutationCount() == 10)
            #expect(try await a.store.counts().pending == 0)
            #expect(try await a.database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM ferry_outbox") } == 0)
            try await a.close()
        }
    }

    /// A row one device's schema refuses lands in its dead letters; the rest still converges.
    @Test func aPoisonMutationIsDeadLetteredAndTheRestConverges() async throws {
        let folder = try TemporaryFolder()
        try await TestServer.with { server in
            let token = try await server.token("notes")
            let a = try HTTPDevice("a", folder: folder, server: server, token: token)
            let b = try HTTPDevice(
                "b",
                folder: folder,
                server: server,
                token: token,
                schema: "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT, body TEXT, n INTEGER CHECK (n IS NULL OR n < 1000))"
            )
            try a.write("INSERT INTO notes (id, title, n) VALUES ('ok1', 'fine', 1), ('poison', 'bad', 5000), ('ok2', 'fine', 2)")
            _ = try await a.engine.sync()
            _ = try await b.engine.sync()
            let letters = try b.store.deadLetters()
            #expect(letters.map(\.entityKey) == ["poison"])
            #expect(try b.rows().map { $0["id"] } == ["\"ok1\"", "\"ok2\""])
            #expect(try a.rows().filter { $0["id"] != "\"poison\"" } == (try b.rows()))
            #expect(try await b.store.cursor(space: "notes").lastSeq == 3)
            // Later changes still flow.
            try a.write("UPDATE notes SET title = 'later' WHERE id = 'ok2'")
            _ = try await a.engine.sync()
            _ = try await b.engine.sync()
            #expect(try b.rows().last?["title"] == "\"later\"")
            try await a.close()
            try await b.close()
        }
    }

    /// The device's cursor is ahead of the server (a server restored from an empty backup):
    /// it resets, keeps its pending changes and pushes them to the new log.
    @Test func aCursorAheadResetsAndKeepsPendingChanges() async throws {
        let folder = try TemporaryFolder()
        let database = try DatabaseQueue(path: folder.path("a.sqlite"))
        try await database.write { db in try db.execute(sql: HTTPDevice.schema) }
        let store = try LocalStore(database)
        try store.register(table: "notes")
        try await database.write { db in try db.execute(sql: "INSERT INTO notes (id, title) VALUES ('x', 'synced'), ('y', 'synced')") }
        try await TestServer.with { first in
            let token = try await first.token("notes")
            let http = HTTPTransport(configuration: HTTPTransportConfiguration(baseURL: first.http.baseURL, accessToken: token))
            _ = try await SyncEngine(store: store, transport: http, space: "notes").sync()
            try await http.shutdown()
        }
        #expect(try await store.cursor(space: "notes").lastSeq == 2)
        try await database.write { db in try db.execute(sql: "INSERT INTO notes (id, title) VALUES ('z', 'pending')") }
        try await TestServer.with { second in
            let token = try await second.token("notes")
            let http = HTTPTransport(configuration: HTTPTransportConfiguration(baseURL: second.http.baseURL, accessToken: token))
            let report = try await SyncEngine(store: store, transport: http, space: "notes").sync()
            #expect(report.resets == 1)
            try await http.shutdown()
            // The pending row reached the new log; the rows only the old log had are gone.
            #expect(try await second.storedMutationCount() == 1)
            #expect(try Convergence.rows(of: "notes", keyColumn: "id", in: database).map { $0["id"] } == ["\"z\""])
            #expect(try await store.cursor(space: "notes").lastSeq == 1)
        }
    }
}
