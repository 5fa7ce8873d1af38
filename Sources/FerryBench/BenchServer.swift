import Foundation

/// The server a workload talks to: a `ferry serve` child it started, or one given with
/// `--server` (then every workload uses the one space given with `--space`).
final class BenchServer {
    /// The server's root URL.
    let baseURL: String
    /// An access token for the workload's spaces.
    let token: String
    /// The only space of a server given with `--server`; `nil` for a child server.
    let fixedSpace: String?
    /// The child process, when the bench started it.
    let process: ServerProcess?
    /// The child's data folder, when the bench started it on SQLite.
    let dataFolder: URL?
    /// More children on the same store (PostgreSQL), for workloads that spread over servers.
    let others: [ServerProcess]
    /// The database the bench created for the children, when they run on PostgreSQL.
    let postgres: (url: String, database: String, adminURL: String)?

    init(
        baseURL: String,
        token: String,
        fixedSpace: String?,
        process: ServerProcess?,
        dataFolder: URL?,
        others: [ServerProcess] = [],
        postgres: (url: String, database: String, adminURL: String)? = nil
    ) {
        self.baseURL = baseURL
        self.token = token
        self.fixedSpace = fixedSpace
        self.process = process
        self.dataFolder = dataFolder
        self.others = others
        self.postgres = postgres
    }

    /// The root URLs of every server of the store: this one first.
    var baseURLs: [String] { [baseURL] + others.map(\.baseURL) }

    /// The space to use for `name`: `name` itself on a child server, the given space otherwise.
    func space(_ name: String) -> String { fixedSpace ?? name }

    /// Stops the child servers, if any, and removes their data folder or database.
    func stop() async {
        await process?.stop()
        for other in others { await other.stop() }
        if let dataFolder { try? FileManager.default.removeItem(at: dataFolder) }
        if let postgres { await ThrowawayPostgres.drop(postgres.database, adminURL: postgres.adminURL) }
    }
}
