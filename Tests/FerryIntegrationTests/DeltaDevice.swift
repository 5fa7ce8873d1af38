import FerryClient
import FerryCore
import GRDB

/// An in-memory database with a store, and its delta sink.
struct DeltaDevice {
    let database: DatabaseQueue
    let sink: LocalDeltaSink

    init() throws {
        database = try DatabaseQueue()
        sink = try LocalStore(database).deltaSink()
    }

    /// The rows of `stream` in the delta table: id to (etag, data); empty when the table
    /// does not exist yet.
    func rows(_ stream: String) async throws -> [String: DeltaRecord] {
        try await database.read { db in
            guard try db.tableExists(LocalDeltaSink.defaultTable) else { return [:] }
            var rows: [String: DeltaRecord] = [:]
            let sql = "SELECT id, etag, data FROM \(LocalDeltaSink.defaultTable) WHERE source = ?"
            for row in try Row.fetchAll(db, sql: sql, arguments: [stream]) {
                rows[row[0]] = DeltaRecord(id: row[0], etag: row[1], data: row[2])
            }
            return rows
        }
    }

    /// The ids and texts of `stream`'s rows.
    func texts(_ stream: String) async throws -> [String: String] {
        try await rows(stream).mapValues(\.data)
    }
}
