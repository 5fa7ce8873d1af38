import FerryCore
import FerryServer
import Foundation
import Logging
import PostgresNIO

/// The throwaway PostgreSQL server that `scripts/test` starts, and a fresh database in it
/// for each test.
public enum PostgresTestServer {
    /// The URL of the server's `postgres` database, from `FERRY_TEST_POSTGRES_URL`.
    public static var adminURL: String? { ProcessInfo.processInfo.environment["FERRY_TEST_POSTGRES_URL"] }

    /// Whether tests run under CI, where a missing PostgreSQL is a failure, not a skip.
    public static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// The command that controls the server (`pg_ctl` with its data folder), from `FERRY_TEST_PG_CTL`.
    public static var pgCtl: [String]? {
        ProcessInfo.processInfo.environment["FERRY_TEST_PG_CTL"].map { $0.split(separator: " ").map(String.init) }
    }

    /// Runs `pg_ctl <action>` (`stop -m fast`, `start`) on the test server.
    public static func control(_ action: [String]) async throws {
        guard let command = pgCtl, !command.isEmpty else {
            throw ProcessError(message: "FERRY_TEST_PG_CTL is not set")
        }
        let line = (command + action).joined(separator: " ") + " > /dev/null"
        // `system` waits for its own child; it runs on a thread of its own so that it does
        // not block the concurrency pool.
        let status = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            Thread { continuation.resume(returning: system(line)) }.start()
        }
        guard status == 0 else {
            throw ProcessError(message: "pg_ctl \(action.joined(separator: " ")) exited \(status)")
        }
    }

    /// Creates an empty database, runs `body` with its URL, and drops it.
    public static func withDatabase<T: Sendable>(_ body: (String) async throws -> T) async throws -> T {
        guard let adminURL else { throw ProcessError(message: "FERRY_TEST_POSTGRES_URL is not set") }
        return try await ThrowawayPostgres.withDatabase(adminURL: adminURL, body)
    }

    /// Runs one statement on the database of `url`.
    public static func admin(_ url: String, _ sql: String) async throws {
        try await ThrowawayPostgres.admin(url, sql)
    }

    /// A migrated PostgreSQL store on a fresh database, running for the time of `body`.
    public static func withStore<T: Sendable>(
        watcher: CommitWatcher = CommitWatcher(),
        clock: WallClock = .system,
        _ body: (PostgresEventLog, PostgresTokenStore, PostgresBackend) async throws -> T
    ) async throws -> T {
        try await withDatabase { url in
            // Deadlines of 30 s, not the 5 s of production: on a 2-core CI machine, right
            // after a fresh build and beside the parallel suites, an operation of these
            // contract tests sometimes took longer (seen in CI); they check the stores'
            // rules, not their deadlines (DeadlineTests and PostgresRetryTests do).
            let configuration = PostgresBackend.Configuration(
                url: url,
                maximumConnections: 4,
                operationTimeout: .seconds(30),
                connectTimeout: .seconds(10)
            )
            let database = try PostgresBackend(configuration: configuration) { space, head in
                watcher.publish(space: space, head: head)
            }
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    try await database.run()
                    return nil
                }
                defer { group.cancelAll() }
                try await database.migrate()
                let result = try await body(
                    PostgresEventLog(database: database, watcher: watcher, clock: clock),
                    PostgresTokenStore(database: database, clock: clock),
                    database
                )
                return result
            }
        }
    }
}
