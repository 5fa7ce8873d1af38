import FerryCore
import FerryServer
import Foundation
import GRDB
import PostgresNIO

/// The growth workload's preparation: mutations and spaces written straight into the store of a
/// running `ferry serve` child with one SQL statement per table and per part (SQLite: in the
/// child's data folder; PostgreSQL: in its database), far faster than pushing them.
///
/// The rows are those the server itself writes for a push of upserts by one device (`d-seed`,
/// session `s-seed`, client action id = seq): the mutation, its record head, the space's head.
/// Their payloads are JSON of about 200 bytes (`{"title": "Seed i", "body": <150 characters>,
/// "n": i, "done": false}`), and keys `seed-i`, which the measured pushes never write, so the
/// pushes meet no conflicts.
enum BenchGrowthSeed {
    /// Mutations per transaction of a log's seeding.
    static let part = 500_000

    /// The 150-character body of every seeded payload.
    static let body = BenchRecords.text(0).body

    /// The name of the growth workload's space number `index` (from 0): `g0000000`, … in the
    /// order of their names.
    static func spaceName(_ index: Int) -> String {
        let digits = String(index)
        return "g" + String(repeating: "0", count: max(0, 7 - digits.count)) + digits
    }

    /// Seeds of each space of the spaces curve.
    static let mutationsPerSpace = 10

    /// Appends seqs `head + 1 … size` to `space` (created if needed) of the store of `server`,
    /// and moves the space's head to `size`. The space's head must be `head`.
    static func growLog(_ server: BenchServer, store: BenchStore, space: String, from head: Int, to size: Int) async throws {
        guard size > head else { return }
        if let postgres = server.postgres {
            try await BenchPostgres.withClient(postgres.url) { client in
                let id = try await postgresSpace(space, client: client)
                for part in BenchRecords.batches(head..<size, size: part) {
                    let first = Int64(part.lowerBound + 1)
                    let last = Int64(part.upperBound)
                    let now = Int64(Date().timeIntervalSince1970 * 1000)
                    _ = try await client.query(
                        """
                        INSERT INTO mutation (space_id, seq, device_id, session_id, client_action_id, entity, entity_key, op,
                            payload, base_seq, client_timestamp, occurred_at)
                        SELECT \(id), i, 'd-seed', 's-seed', i, 'items', 'seed-' || i, 'upsert',
                            format('{"title":"Seed %s","body":"%s","n":%s,"done":false}', i, \(body)::text, i), 0, NULL, \(now)
                        FROM generate_series(\(first)::bigint, \(last)::bigint) AS i
                        """,
                        logger: BenchPostgres.logger
                    )
                    _ = try await client.query(
                        """
                        INSERT INTO record_head (space_id, entity, entity_key, seq, device_id, other_seq)
                        SELECT \(id), 'items', 'seed-' || i, i, 'd-seed', 0 FROM generate_series(\(first)::bigint, \(last)::bigint) AS i
                        """,
                        logger: BenchPostgres.logger
                    )
                    _ = try await client.query("UPDATE space SET head_seq = \(last) WHERE id = \(id)", logger: BenchPostgres.logger)
                }
                _ = try await client.query("VACUUM ANALYZE mutation", logger: BenchPostgres.logger)
                _ = try await client.query("VACUUM ANALYZE record_head", logger: BenchPostgres.logger)
            }
            return
        }
        guard case .sqlite = store, let folder = server.dataFolder else {
            throw BenchError("growth: the log is seeded in a SQLite data folder or a PostgreSQL database only")
        }
        let database = try SQLiteDatabase(configuration: store.sqliteConfiguration(folder: folder, durability: .normal))
        // The log creates the space as a pull would, with its log id.
        _ = try await SQLiteEventLog(database: database).read(space: space, since: 0, limit: 1, excludingDevice: nil)
        for part in BenchRecords.batches(head..<size, size: part) {
            let first = part.lowerBound + 1
            let last = part.upperBound
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            try await database.write { db in
                guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM space WHERE name = ?", arguments: [space]) else {
                    throw BenchError("growth: space \(space) is missing")
                }
                try db.execute(
                    sql: """
                        WITH RECURSIVE c(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM c WHERE i < ?)
                        INSERT INTO mutation (space_id, seq, device_id, session_id, client_action_id, entity, entity_key, op,
                            payload, base_seq, client_timestamp, occurred_at)
                        SELECT ?, i, 'd-seed', 's-seed', i, 'items', 'seed-' || i, 'upsert',
                            CAST(printf('{"title":"Seed %d","body":"%s","n":%d,"done":false}', i, ?, i) AS BLOB), 0, NULL, ?
                        FROM c
                        """,
                    arguments: [first, last, id, body, now]
                )
                try db.execute(
                    sql: """
                        WITH RECURSIVE c(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM c WHERE i < ?)
                        INSERT INTO record_head (space_id, entity, entity_key, seq, device_id, other_seq)
                        SELECT ?, 'items', 'seed-' || i, i, 'd-seed', 0 FROM c
                        """,
                    arguments: [first, last, id]
                )
                try db.execute(sql: "UPDATE space SET head_seq = ? WHERE id = ?", arguments: [last, id])
            }
        }
        try await checkpoint(database)
    }

    /// Copies the seed out of the write-ahead log into the database file and empties the log,
    /// as the server's own writes keep it small: the server's reads would otherwise look up
    /// every page in a log of hundreds of megabytes, and the measurement would see the seeding.
    private static func checkpoint(_ database: SQLiteDatabase) async throws {
        try await database.pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }

    /// Creates the spaces `spaceName(from) … spaceName(to - 1)` in the store of `server`, each
    /// with ``mutationsPerSpace`` mutations (seqs 1 … 10, keys `seed-1` …) and its head there.
    static func addSpaces(_ server: BenchServer, store: BenchStore, from: Int, to: Int) async throws {
        guard to > from else { return }
        for part in BenchRecords.batches(from..<to, size: 50_000) {
            let low = spaceName(part.lowerBound)
            let high = spaceName(part.upperBound - 1)
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let count = Int64(mutationsPerSpace)
            if let postgres = server.postgres {
                try await BenchPostgres.withClient(postgres.url) { client in
                    _ = try await client.query(
                        """
                        INSERT INTO space (name, log_id, head_seq, created_at)
                        SELECT 'g' || lpad(i::text, 7, '0'), md5(random()::text || i::text), \(count), \(now)
                        FROM generate_series(\(Int64(part.lowerBound))::bigint, \(Int64(part.upperBound - 1))::bigint) AS i
                        """,
                        logger: BenchPostgres.logger
                    )
                    _ = try await client.query(
                        """
                        INSERT INTO mutation (space_id, seq, device_id, session_id, client_action_id, entity, entity_key, op,
                            payload, base_seq, client_timestamp, occurred_at)
                        SELECT s.id, k, 'd-seed', 's-seed', k, 'items', 'seed-' || k, 'upsert',
                            format('{"title":"Seed %s","body":"%s","n":%s,"done":false}', k, \(body)::text, k), 0, NULL, \(now)
                        FROM space AS s, generate_series(1::bigint, \(count)::bigint) AS k WHERE s.name BETWEEN \(low) AND \(high)
                        """,
                        logger: BenchPostgres.logger
                    )
                    _ = try await client.query(
                        """
                        INSERT INTO record_head (space_id, entity, entity_key, seq, device_id, other_seq)
                        SELECT s.id, 'items', 'seed-' || k, k, 'd-seed', 0
                        FROM space AS s, generate_series(1::bigint, \(count)::bigint) AS k WHERE s.name BETWEEN \(low) AND \(high)
                        """,
                        logger: BenchPostgres.logger
                    )
                }
                continue
            }
            guard case .sqlite = store, let folder = server.dataFolder else {
                throw BenchError("growth: spaces are seeded in a SQLite data folder or a PostgreSQL database only")
            }
            let database = try SQLiteDatabase(configuration: store.sqliteConfiguration(folder: folder, durability: .normal))
            try await database.write { db in
                try db.execute(
                    sql: """
                        WITH RECURSIVE c(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM c WHERE i < ?)
                        INSERT INTO space (name, log_id, head_seq, created_at)
                        SELECT printf('g%07d', i), lower(hex(randomblob(16))), ?, ? FROM c
                        """,
                    arguments: [part.lowerBound, part.upperBound - 1, count, now]
                )
                try db.execute(
                    sql: """
                        WITH RECURSIVE k(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM k WHERE j < ?)
                        INSERT INTO mutation (space_id, seq, device_id, session_id, client_action_id, entity, entity_key, op,
                            payload, base_seq, client_timestamp, occurred_at)
                        SELECT s.id, j, 'd-seed', 's-seed', j, 'items', 'seed-' || j, 'upsert',
                            CAST(printf('{"title":"Seed %d","body":"%s","n":%d,"done":false}', j, ?, j) AS BLOB), 0, NULL, ?
                        FROM space AS s, k WHERE s.name BETWEEN ? AND ?
                        """,
                    arguments: [count, body, now, low, high]
                )
                try db.execute(
                    sql: """
                        WITH RECURSIVE k(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM k WHERE j < ?)
                        INSERT INTO record_head (space_id, entity, entity_key, seq, device_id, other_seq)
                        SELECT s.id, 'items', 'seed-' || j, j, 'd-seed', 0 FROM space AS s, k WHERE s.name BETWEEN ? AND ?
                        """,
                    arguments: [count, low, high]
                )
            }
        }
        if let postgres = server.postgres {
            try await BenchPostgres.withClient(postgres.url) { client in
                _ = try await client.query("VACUUM ANALYZE", logger: BenchPostgres.logger)
            }
        } else if case .sqlite = store, let folder = server.dataFolder {
            try await checkpoint(SQLiteDatabase(configuration: store.sqliteConfiguration(folder: folder, durability: .normal)))
        }
    }

    /// The id of `space` in the PostgreSQL database, the space created as the log creates it.
    private static func postgresSpace(_ space: String, client: PostgresClient) async throws -> Int64 {
        let logID = UUID().uuidString.lowercased()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        _ = try await client.query(
            "INSERT INTO space (name, log_id, head_seq, created_at) VALUES (\(space), \(logID), 0, \(now)) ON CONFLICT (name) DO NOTHING",
            logger: BenchPostgres.logger
        )
        let rows = try await client.query("SELECT id FROM space WHERE name = \(space)", logger: BenchPostgres.logger)
        for try await id in rows.decode(Int64.self) { return id }
        throw BenchError("growth: space \(space) is missing")
    }

    /// Issues a token for `spaces` in the store of `server`.
    static func issueToken(_ server: BenchServer, store: BenchStore, spaces: [String]) async throws -> String {
        if let postgres = server.postgres { return try await BenchPostgres.issueToken(url: postgres.url, spaces: spaces) }
        guard case .sqlite = store, let folder = server.dataFolder else {
            throw BenchError("growth: tokens are issued in a SQLite data folder or a PostgreSQL database only")
        }
        let database = try SQLiteDatabase(configuration: store.sqliteConfiguration(folder: folder, durability: .normal))
        return try await SQLiteTokenStore(database: database).issue(spaces: spaces, accessTTL: 7 * 86_400).accessToken
    }
}
