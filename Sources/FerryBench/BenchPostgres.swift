import FerryCore
import FerryServer
import Foundation
import Logging
import PostgresNIO

/// The PostgreSQL side of `ferry bench --postgres URL`: direct fills and the multi-row insert
/// ceiling, on the new database of a workload (see ``ThrowawayPostgres``).
enum BenchPostgres {
    static let logger: Logger = {
        var logger = Logger(label: "ferry.bench.postgres")
        logger.logLevel = .error
        return logger
    }()

    /// Runs `body` with a connection pool on `url`, running while it runs.
    static func withClient<T>(_ url: String, _ body: (PostgresClient) async throws -> T) async throws -> T {
        let backend = try PostgresBackend(
            configuration: .init(url: url, maximumConnections: 8, operationTimeout: .seconds(120)),
            logger: logger
        )
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await backend.runPool() }
            defer { group.cancelAll() }
            return try await body(backend.client)
        }
    }

    /// Runs `body` with Ferry's storage on the database at `url`, its pool running and its
    /// schema migrated, as `ferry token --postgres` uses it.
    private static func withStorage<T: Sendable>(
        _ url: String,
        _ body: @escaping @Sendable (FerryStorage) async throws -> T
    ) async throws -> T {
        let storage = try FerryStorage(.postgres(url: url, operationTimeout: .seconds(120)), logger: logger)
        return try await storage.whileRunning { try await body(storage) }
    }

    /// Migrates the schema of the database at `url` and issues a token for `spaces` there.
    static func issueToken(url: String, spaces: [String]) async throws -> String {
        try await withStorage(url) { storage in
            try await storage.tokens.issue(spaces: spaces, accessTTL: 7 * 86_400).accessToken
        }
    }

    /// Appends records `range` to `space` of the database at `url` through
    /// ``PostgresEventLog`` itself, in transactions of `batch` mutations.
    static func fill(url: String, space: String, range: Range<Int>, device: String, batch: Int) async throws {
        try await withStorage(url) { storage in
            for part in BenchRecords.batches(range, size: batch) {
                _ = try await storage.eventLog.append(
                    AppendBatch(space: space, deviceID: device, sessionID: "s-fill", mutations: BenchRecords.newMutations(part))
                )
            }
        }
        // As autovacuum does to a log some time after a bulk write: the first read of freshly
        // inserted rows would otherwise set their hint bits, rewriting the table while it is
        // being measured, and the planner would have no statistics of it.
        try await withClient(url) { client in
            _ = try await client.query("VACUUM ANALYZE mutation", logger: logger)
        }
    }

    /// The ceiling of pushing into PostgreSQL: records `0..<count` inserted into a new table
    /// with the server's `mutation` columns and keys, one multi-row `INSERT` per batch of
    /// `batch` rows, each its own transaction (as each push is). Answers rows per second.
    static func insertCeiling(url: String, count: Int, batch: Int) async throws -> Double {
        try await withClient(url) { client in
            let table = "ceiling_\(UUID().uuidString.prefix(8).lowercased())"
            _ = try await client.query(
                PostgresQuery(
                    unsafeSQL: """
                        CREATE TABLE \(table) (space_id BIGINT NOT NULL, seq BIGINT NOT NULL, device_id TEXT NOT NULL,
                            session_id TEXT NOT NULL, client_action_id BIGINT NOT NULL, entity TEXT NOT NULL,
                            entity_key TEXT NOT NULL, op TEXT NOT NULL, payload TEXT, base_seq BIGINT,
                            client_timestamp TEXT, occurred_at BIGINT NOT NULL, PRIMARY KEY (space_id, seq))
                        """
                ),
                logger: logger
            )
            _ = try await client.query(
                PostgresQuery(
                    unsafeSQL: "CREATE UNIQUE INDEX \(table)_triple ON \(table) (device_id, session_id, client_action_id, space_id)"
                ),
                logger: logger
            )
            // Built before the clock starts: the statement text and the bound values of every batch.
            let queries = BenchRecords.batches(0..<count, size: batch).map { range in
                var bindings = PostgresBindings(capacity: range.count * 4)
                var values: [String] = []
                values.reserveCapacity(range.count)
                for index in range {
                    let first = bindings.count + 1
                    bindings.append(Int64(index + 1))
                    bindings.append(BenchRecords.key(index))
                    bindings.append(String(decoding: BenchRecords.payload(index).serialized(), as: UTF8.self))
                    values.append(
                        "(1, $\(first), 'd-bench', 's-bench', $\(first), 'items', $\(first + 1), 'upsert', $\(first + 2), 0, NULL, 1763900000000)"
                    )
                }
                return PostgresQuery(
                    unsafeSQL: """
                        INSERT INTO \(table) (space_id, seq, device_id, session_id, client_action_id, entity, entity_key, op,
                            payload, base_seq, client_timestamp, occurred_at) VALUES \(values.joined(separator: ", "))
                        """,
                    binds: bindings
                )
            }
            let elapsed = try await ContinuousClock().measure {
                for query in queries { _ = try await client.query(query, logger: logger) }
            }
            _ = try await client.query(PostgresQuery(unsafeSQL: "DROP TABLE \(table)"), logger: logger)
            return Double(count) / elapsed.seconds
        }
    }
}
