import FerryCore
import FerryServer
import Foundation

/// The server store a benchmark runs against, and how to start servers on it.
///
/// Every workload starts its own `ferry serve` child on a fresh store, so that workloads do
/// not see each other's data: a new SQLite data folder, or a new database on the PostgreSQL
/// server of `--postgres URL` (created by the bench and dropped when the workload ends).
package enum BenchStore: Sendable {
    /// A SQLite file in a temporary data folder, with the server's commit durability.
    case sqlite(durability: SQLiteConfiguration.Durability)
    /// New databases on the PostgreSQL server of `url`, whose user may create databases.
    case postgres(url: String)
    /// The log in the server's memory (`ferry serve --memory`), its tokens in a temporary
    /// data folder.
    case memory

    /// The name in results: `sqlite`, `postgres` or `memory`.
    var name: String {
        switch self {
        case .sqlite: "sqlite"
        case .postgres: "postgres"
        case .memory: "memory"
        }
    }

    /// Starts `servers` `ferry serve` children (the executable `ferry`) on a new, empty store
    /// named after `folder` (its data folder, or its database), with a token for `spaces`;
    /// returns once they listen, each started with `arguments` too. Several servers need the
    /// PostgreSQL store. The servers build
    /// snapshots only when `snapshotEvery` is given (the background builder would otherwise
    /// run beside the workloads that do not measure it).
    func launch(
        ferry: String,
        folder: URL,
        spaces: [String],
        servers: Int = 1,
        snapshotEvery: Int = 0,
        arguments: [String] = []
    ) async throws -> BenchServer {
        let options = ["--snapshot-every", String(snapshotEvery)] + arguments
        // Started through a link of its own name, so that a `pkill -f "ferry serve"` run on
        // a shared machine to clean up other servers does not stop the bench's.
        let link = folder.deletingLastPathComponent().appendingPathComponent("ferry-bench-server")
        if !FileManager.default.fileExists(atPath: link.path) {
            try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: ferry)
        }
        switch self {
        case .sqlite(let durability):
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let configuration = sqliteConfiguration(folder: folder, durability: durability)
            // Issue the token before the server starts, so it prints no first-start banner.
            let token = try await SQLiteTokenStore(database: try SQLiteDatabase(configuration: configuration))
                .issue(spaces: spaces, accessTTL: 7 * 86_400)
            precondition(servers == 1, "several servers share a PostgreSQL store only")
            let process = try await ServerProcess(
                executable: link.path,
                arguments: ["--data", folder.path, "--durability", durability.rawValue] + options,
                waitUntilHealthy: true,
                capturesStandardError: true
            )
            return BenchServer(baseURL: process.baseURL, token: token.accessToken, fixedSpace: nil, process: process, dataFolder: folder)
        case .memory:
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let configuration = sqliteConfiguration(folder: folder, durability: .full)
            let token = try await SQLiteTokenStore(database: try SQLiteDatabase(configuration: configuration))
                .issue(spaces: spaces, accessTTL: 7 * 86_400)
            precondition(servers == 1, "several servers share a PostgreSQL store only")
            let process = try await ServerProcess(
                executable: link.path,
                arguments: ["--memory", "--data", folder.path] + options,
                waitUntilHealthy: true,
                capturesStandardError: true
            )
            return BenchServer(baseURL: process.baseURL, token: token.accessToken, fixedSpace: nil, process: process, dataFolder: folder)
        case .postgres(let adminURL):
            // fb_<the run's id>_<the workload>: letters and digits only, so it needs no quoting.
            let run = folder.deletingLastPathComponent().lastPathComponent.dropFirst("ferry-bench-".count)
            let database =
                "fb_\(run.filter { $0.isLetter || $0.isNumber })_\(folder.lastPathComponent.filter { $0.isLetter || $0.isNumber })"
                .lowercased()
            let url = try await ThrowawayPostgres.create(database, adminURL: adminURL)
            do {
                let token = try await BenchPostgres.issueToken(url: url, spaces: spaces)
                var processes: [ServerProcess] = []
                for _ in 0..<servers {
                    processes.append(
                        try await ServerProcess(
                            executable: link.path,
                            arguments: ["--postgres", url] + options,
                            waitUntilHealthy: true,
                            capturesStandardError: true
                        )
                    )
                }
                return BenchServer(
                    baseURL: processes[0].baseURL,
                    token: token,
                    fixedSpace: nil,
                    process: processes[0],
                    dataFolder: nil,
                    others: Array(processes.dropFirst()),
                    postgres: (url: url, database: database, adminURL: adminURL)
                )
            } catch {
                await ThrowawayPostgres.drop(database, adminURL: adminURL)
                throw error
            }
        }
    }

    /// Appends the records `range` to `space` straight into the store of `server` (which may
    /// be running), as one device in transactions of `batch` mutations; `false` when this
    /// store cannot be filled directly (then fill it through the server).
    func fillDirectly(_ server: BenchServer, space: String, range: Range<Int>, device: String, batch: Int = 1000) async throws -> Bool {
        if case .postgres = self, let postgres = server.postgres {
            try await BenchPostgres.fill(url: postgres.url, space: space, range: range, device: device, batch: batch)
            return true
        }
        // The memory store is in the server's process: it is filled through the server.
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
}
