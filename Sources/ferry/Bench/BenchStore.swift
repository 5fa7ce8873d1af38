import ArgumentParser
import FerryServer
import Foundation

/// The server store a benchmark runs against, and how to start servers on it.
///
/// Every workload starts its own `ferry serve` child on a fresh store, so that workloads do
/// not see each other's data. The PostgreSQL store (`--postgres URL`) is not built yet.
enum BenchStore: Sendable {
    /// A SQLite file in a temporary data folder, with the server's commit durability.
    case sqlite(durability: SQLiteConfiguration.Durability)
    /// A PostgreSQL database (not available yet).
    case postgres(url: String)

    /// The name in results: `sqlite` or `postgres`.
    var name: String {
        switch self {
        case .sqlite: "sqlite"
        case .postgres: "postgres"
        }
    }

    /// Starts a `ferry serve` child (the executable `ferry`) on a new, empty store in
    /// `folder`, with a token for `spaces`; returns once it listens.
    func launch(ferry: String, folder: URL, spaces: [String]) async throws -> BenchServer {
        switch self {
        case .sqlite(let durability):
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let configuration = sqliteConfiguration(folder: folder, durability: durability)
            // Issue the token before the server starts, so it prints no first-start banner.
            let token = try await SQLiteTokenStore(database: try SQLiteDatabase(configuration: configuration))
                .issue(spaces: spaces, accessTTL: 7 * 86_400)
            // Started through a link of its own name, so that a `pkill -f "ferry serve"` run on
            // a shared machine to clean up other servers does not stop the bench's.
            let link = folder.deletingLastPathComponent().appendingPathComponent("ferry-bench-server")
            if !FileManager.default.fileExists(atPath: link.path) {
                try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: ferry)
            }
            let process = try await BenchServerProcess(
                executable: link.path,
                arguments: ["serve", "--host", "127.0.0.1", "--port", "0", "--data", folder.path, "--durability", durability.rawValue]
            )
            return BenchServer(baseURL: process.baseURL, token: token.accessToken, fixedSpace: nil, process: process, dataFolder: folder)
        case .postgres:
            throw Self.postgresUnavailable
        }
    }

    /// Appends the records `range` to `space` straight into the store of `server` (which may
    /// be running), as one device in transactions of `batch` mutations; `false` when this
    /// store cannot be filled directly (then fill it through the server).
    func fillDirectly(_ server: BenchServer, space: String, range: Range<Int>, device: String, batch: Int = 1000) async throws -> Bool {
        guard case .sqlite = self, let folder = server.dataFolder else { return false }
        // Durability normal: the fill is preparation, not measured.
        let database = try SQLiteDatabase(configuration: sqliteConfiguration(folder: folder, durability: .normal))
        let log = SQLiteEventLog(database: database)
        for part in BenchRecords.batches(range, size: batch) {
            _ = try await log.append(
                AppendBatch(space: space, deviceID: device, sessionID: "s-fill", mutations: BenchRecords.newMutations(part))
            )
        }
        return true
    }

    /// The SQLite file of a data folder, as `ferry serve --data` opens it.
    func sqliteConfiguration(folder: URL, durability: SQLiteConfiguration.Durability) -> SQLiteConfiguration {
        SQLiteConfiguration(path: folder.appendingPathComponent("ferry.sqlite").path, durability: durability)
    }

    /// The error of `--postgres` until the PostgreSQL store exists.
    static let postgresUnavailable = ValidationError(
        "--postgres: the PostgreSQL store is not available yet (issue 4); benchmark the SQLite store for now"
    )
}
