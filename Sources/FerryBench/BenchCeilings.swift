import FerryCore
import FerryServer
import Foundation
import GRDB

/// The limits measured in the same run as the workloads: the same rows and mutations with
/// nothing but SQLite or JSON in the way. Each answers one figure per round, in units per second.
enum BenchCeilings {
    /// Inserts the records `0..<count` into a new SQLite file in `folder` through GRDB in one
    /// transaction with one prepared statement, as rows of the server's `mutation` table
    /// (same columns and keys, payload as JSON bytes): the limit for pushing into the SQLite
    /// store. Answers rows per second; the encoding of payloads is done before timing.
    static func sqliteLogInsert(count: Int, folder: URL, durability: SQLiteConfiguration.Durability) throws -> Double {
        let payloads = (0..<count).map { Data(BenchRecords.payload($0).serialized()) }
        return try withDatabase(in: folder, durability: durability) { queue in
            try queue.write { db in
                try db.execute(
                    sql: """
                        CREATE TABLE mutation (space_id INTEGER NOT NULL, seq INTEGER NOT NULL, device_id TEXT NOT NULL,
                            session_id TEXT NOT NULL, client_action_id INTEGER NOT NULL, entity TEXT NOT NULL,
                            entity_key TEXT NOT NULL, op TEXT NOT NULL, payload BLOB, base_seq INTEGER,
                            client_timestamp TEXT, occurred_at INTEGER NOT NULL, PRIMARY KEY (space_id, seq)) WITHOUT ROWID;
                        CREATE UNIQUE INDEX mutation_triple ON mutation (space_id, device_id, session_id, client_action_id);
                        """
                )
            }
            return try timed(count) {
                try queue.inTransaction { db in
                    let statement = try db.makeStatement(
                        sql: """
                            INSERT INTO mutation (space_id, seq, device_id, session_id, client_action_id, entity,
                                entity_key, op, payload, base_seq, client_timestamp, occurred_at)
                            VALUES (1, ?, 'd-bench', 's-bench', ?, 'items', ?, 'upsert', ?, 0, NULL, 1763900000000)
                            """
                    )
                    for index in 0..<count {
                        try statement.execute(arguments: [index + 1, index + 1, BenchRecords.key(index), payloads[index]])
                    }
                    return .commit
                }
            }
        }
    }

    /// Inserts the records `0..<count` into a new SQLite file in `folder` through GRDB in one
    /// transaction with one prepared statement, as rows of the client's `items` table: the
    /// limit for applying pulled records. Answers rows per second.
    static func sqliteRowInsert(count: Int, folder: URL) throws -> Double {
        let records = (0..<count).map { index in
            let (title, body) = BenchRecords.text(index)
            return (BenchRecords.key(index), title, body)
        }
        return try withDatabase(in: folder, durability: .full) { queue in
            try queue.write { db in try db.execute(sql: BenchRecords.createTableSQL) }
            return try timed(count) {
                try queue.inTransaction { db in
                    let statement = try db.makeStatement(sql: "INSERT INTO items (id, title, body, n, done) VALUES (?, ?, ?, ?, 0)")
                    for index in 0..<count {
                        let (key, title, body) = records[index]
                        try statement.execute(arguments: [key, title, body, index])
                    }
                    return .commit
                }
            }
        }
    }

    /// JSON without I/O: writes the records `0..<count` as pull pages of `page` mutations
    /// from stored mutations (payload text copied in, as the server does) and reads them back
    /// into values (as the client's transport does), with Ferry's JSON writer and reader.
    /// Answers mutations per second for writing and reading together, and for each alone.
    static func json(count: Int, page: Int) throws -> (both: Double, encode: Double, decode: Double) {
        let pages = BenchRecords.batches(0..<count, size: page).map { range in
            LogPage(
                mutations: BenchRecords.stored(range),
                latestSeq: Int64(range.upperBound),
                headSeq: Int64(count),
                logID: "00000000-0000-0000-0000-000000000000"
            )
        }
        let clock = ContinuousClock()
        var bodies: [[UInt8]] = []
        bodies.reserveCapacity(pages.count)
        let encoding = clock.measure {
            for page in pages { bodies.append(page.pullResponseJSON()) }
        }
        var decoded = 0
        let decoding = try clock.measure {
            for body in bodies { decoded += try PullResponse(jsonBytes: body).mutations.count }
        }
        guard decoded == count else { throw BenchError("JSON ceiling: decoded \(decoded) of \(count) mutations") }
        return (
            Double(count) / (encoding + decoding).seconds, Double(count) / encoding.seconds, Double(count) / decoding.seconds
        )
    }

    private static func withDatabase<T>(
        in folder: URL,
        durability: SQLiteConfiguration.Durability,
        _ body: (DatabaseQueue) throws -> T
    ) throws -> T {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("ceiling-\(UUID().uuidString).sqlite").path
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = \(durability == .full ? "FULL" : "NORMAL")")
        }
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        let result = try body(queue)
        try queue.close()
        return result
    }

    private static func timed(_ count: Int, _ body: () throws -> Void) throws -> Double {
        let elapsed = try ContinuousClock().measure(body)
        return Double(count) / elapsed.seconds
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// The duration in milliseconds, as a `Double`.
    var milliseconds: Double { seconds * 1000 }
}
