import FerryServer
import Foundation
import Logging
import PostgresNIO

/// Throwaway databases on a PostgreSQL server whose user may create databases: one per
/// benchmark workload, one per test.
package enum ThrowawayPostgres {
    private static let logger: Logger = {
        var logger = Logger(label: "ferry.postgres.throwaway")
        logger.logLevel = .error
        return logger
    }()

    /// `url` with its database replaced by `database`.
    package static func url(_ url: String, database: String) throws -> String {
        guard var components = URLComponents(string: url) else { throw ProcessError(message: "'\(url)' is not a URL") }
        components.path = "/" + database
        guard let result = components.string else { throw ProcessError(message: "cannot build a URL from '\(url)'") }
        return result
    }

    /// Runs one statement on the database of `url`, through a connection of its own.
    package static func admin(_ url: String, _ sql: String) async throws {
        let database = try PostgresBackend(
            configuration: .init(url: url, maximumConnections: 1, operationTimeout: .seconds(120)),
            logger: logger
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.runPool() }
            defer { group.cancelAll() }
            try await database.client.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
    }

    /// Creates the empty database `name` (a plain identifier) on the server of `adminURL`,
    /// dropping one of that name first; answers its URL.
    @discardableResult
    package static func create(_ name: String, adminURL: String) async throws -> String {
        try await admin(adminURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        try await admin(adminURL, "CREATE DATABASE \(name)")
        return try url(adminURL, database: name)
    }

    /// Drops the database `name`, closing what is still connected to it; failures are ignored.
    package static func drop(_ name: String, adminURL: String) async {
        try? await admin(adminURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// Creates an empty database with a new name, runs `body` with its URL, and drops it.
    package static func withDatabase<T: Sendable>(adminURL: String, _ body: (String) async throws -> T) async throws -> T {
        let name = "ferry_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased())"
        let url = try await create(name, adminURL: adminURL)
        let result: Result<T, any Error>
        do {
            result = .success(try await body(url))
        } catch {
            result = .failure(error)
        }
        await drop(name, adminURL: adminURL)
        return try result.get()
    }
}
