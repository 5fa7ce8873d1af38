import ArgumentParser
import FerryServer
import Logging

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
    var dataFolder: String { FerryEnvironment().dataFolder(data) }

    /// The storage the options choose; `memory` keeps the log in memory.
    func configuration(memory: Bool = false) throws -> FerryStorage.Configuration {
        do {
            return try FerryEnvironment().storage(data: data, durability: durability, postgres: postgres, memory: memory)
        } catch let error as ConfigurationError {
            throw ValidationError(error.message)
        }
    }

    /// Runs `body` with the token store of the chosen storage (for the `token` commands).
    func withTokens<T: Sendable>(_ body: @escaping @Sendable (any TokenStore) async throws -> T) async throws -> T {
        var logger = Logger(label: "ferry")
        logger.logLevel = .error
        let storage = try FerryStorage(configuration(), logger: logger)
        return try await storage.whileRunning { try await body(storage.tokens) }
    }
}
