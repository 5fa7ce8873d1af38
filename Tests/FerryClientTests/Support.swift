import FerryClient
import FerryCore
import FerryTestKit
import Foundation
import GRDB

/// A temporary folder, removed when the last reference goes.
final class Scratch: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-client-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// One device: its own SQLite database with a `notes` table, a local store, and an engine.
struct Device {
    let database: DatabaseQueue
    let store: LocalStore
    let engine: SyncEngine
    /// The database's file; `nil` in memory.
    let path: String?

    static let schema = """
        CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT, body TEXT, n INTEGER, done INTEGER NOT NULL DEFAULT 0)
        """

    /// Opens the device's database: in `scratch` (made on first use), or a new one in memory
    /// when `scratch` is `nil`.
    init(
        _ name: String,
        in scratch: Scratch? = nil,
        transport: any SyncTransport,
        policy: ConflictPolicy = .lastWriterWins,
        extraSchema: String? = nil,
        pullLimit: Int? = nil
    ) throws {
        path = scratch?.path("\(name).sqlite")
        let isNew = path.map { !FileManager.default.fileExists(atPath: $0) } ?? true
        // A file others open too (a second program, the manager's watcher of other processes'
        // commits) waits for their locks, as an app sharing its file sets it up.
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        database = try path.map { try DatabaseQueue(path: $0, configuration: configuration) } ?? DatabaseQueue()
        if isNew {
            try database.write { db in
                try db.execute(sql: extraSchema ?? Self.schema)
            }
        }
        store = try LocalStore(database)
        try store.register(table: "notes", policy: policy)
        engine = SyncEngine(store: store, transport: transport, space: "notes", pullLimit: pullLimit)
    }

    func write(_ sql: String, _ arguments: StatementArguments = []) throws {
        try database.write { db in try db.execute(sql: sql, arguments: arguments) }
    }

    @discardableResult
    func sync() async throws -> SyncEngine.Report {
        try await engine.sync()
    }

    func rows() throws -> [[String: String]] {
        try Convergence.rows(of: "notes", keyColumn: "id", in: database)
    }

    func outbox() throws -> [(op: String, key: String, payload: String?, state: String)] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT op, entity_key, payload, state FROM ferry_outbox ORDER BY client_action_id")
                .map { ($0[0], $0[1], $0[2], $0[3]) }
        }
    }
}

/// Syncs the devices in turn until no outbox holds anything to push, then once more so that
/// everyone has pulled everything; answers the rounds it took.
@discardableResult
func settle(_ devices: [Device], maxRounds: Int = 6) async throws -> Int {
    for round in 1...maxRounds {
        for device in devices { try await device.sync() }
        if try devices.allSatisfy({ try $0.store.counts().pending == 0 }) {
            for device in devices { try await device.sync() }
            return round
        }
    }
    throw FerryError(.internal, "the devices did not settle in \(maxRounds) rounds")
}
