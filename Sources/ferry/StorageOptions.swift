import ArgumentParser
import FerryCore
import FerryServer
import Foundation
import Logging
import ServiceLifecycle

/// Options that pick the server's storage, shared by `serve` and `token`.
struct StorageOptions: ParsableArguments {
    @Option(name: .long, help: "The data folder for SQLite storage (env FERRY_DATA, default ./ferry-data).")
    var data: String?

    @Option(name: .long, help: "Commit durability of SQLite storage: full or normal (env FERRY_DURABILITY, default full).")
    var durability: String?

    @Option(
        name: .long,
        help: "Store in PostgreSQL instead, shared by several servers: postgresql://user@host:port/db (env FERRY_POSTGRES_URL)."
    )
    var postgres: String?

    /// The data folder after flags, environment and default.
    var dataFolder: String { data ?? Environment.value("FERRY_DATA") ?? "./ferry-data" }

    /// The PostgreSQL URL after flags and environment, if any.
    var postgresURL: String? { postgres ?? Environment.value("FERRY_POSTGRES_URL") }

    /// The path of the SQLite file in the data folder.
    var databasePath: String { URL(fileURLWithPath: dataFolder).appendingPathComponent("ferry.sqlite").path }

    func sqliteConfiguration() throws -> SQLiteConfiguration {
        let name = durability ?? Environment.value("FERRY_DURABILITY") ?? "full"
        guard let level = SQLiteConfiguration.Durability(rawValue: name) else {
            throw ValidationError("durability must be full or normal, not '\(name)'")
        }
        return SQLiteConfiguration(path: databasePath, durability: level)
    }

    /// Opens the chosen storage.
    func open(watcher: CommitWatcher, logger: Logger) throws -> Storage {
        if let url = postgresURL {
            let database = try PostgresBackend(configuration: .init(url: url), logger: logger) { space, head in
                watcher.publish(space: space, head: head)
            }
            return Storage(
                eventLog: PostgresEventLog(database: database, watcher: watcher),
                tokens: PostgresTokenStore(database: database),
                postgres: database
            )
        }
        let database = try SQLiteDatabase(configuration: try sqliteConfiguration())
        return Storage(
            eventLog: SQLiteEventLog(database: database, watcher: watcher),
            tokens: SQLiteTokenStore(database: database),
            postgres: nil
        )
    }

    /// Runs `body` with the token store of the chosen storage (for the `token` commands).
    func withTokens<T: Sendable>(_ body: @escaping @Sendable (any TokenStore) async throws -> T) async throws -> T {
        var logger = Logger(label: "ferry")
        logger.logLevel = .error
        let storage = try open(watcher: CommitWatcher(), logger: logger)
        return try await storage.whileRunning { try await body(storage.tokens) }
    }
}

/// The server's storage: an event log and a token store, and the PostgreSQL pool behind
/// them when there is one.
struct Storage: Sendable {
    let eventLog: any EventLog
    let tokens: any TokenStore
    let postgres: PostgresBackend?

    /// The services the storage needs running while it is used.
    var services: [any Service] { postgres.map { [$0] } ?? [] }

    /// Runs PostgreSQL's pool and migrates its schema around `body` (for short commands; a
    /// server runs ``services`` instead).
    func whileRunning<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let postgres else { return try await body() }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await postgres.runPool()
                return nil
            }
            defer { group.cancelAll() }
            try await postgres.migrate()
            return try await body()
        }
    }
}

/// Reading `FERRY_`-prefixed settings from the environment.
enum Environment {
    static func value(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }

    /// A flag's value, else the environment's, else the default; a malformed number in the
    /// environment is an error, not silently the default.
    static func integer(_ flag: Int?, _ name: String, default fallback: Int) throws -> Int {
        if let flag { return flag }
        guard let text = value(name) else { return fallback }
        guard let number = Int(text) else { throw ValidationError("\(name) must be an integer, not '\(text)'") }
        return number
    }
}
