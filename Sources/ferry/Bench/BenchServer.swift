import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

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
    let process: BenchServerProcess?
    /// The child's data folder, when the bench started it on SQLite.
    let dataFolder: URL?
    /// More children on the same store (PostgreSQL), for workloads that spread over servers.
    let others: [BenchServerProcess]
    /// The database the bench created for the children, when they run on PostgreSQL.
    let postgres: (url: String, database: String, adminURL: String)?

    init(
        baseURL: String,
        token: String,
        fixedSpace: String?,
        process: BenchServerProcess?,
        dataFolder: URL?,
        others: [BenchServerProcess] = [],
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
        if let postgres { await BenchPostgres.dropDatabase(postgres.database, adminURL: postgres.adminURL) }
    }
}

/// A `ferry serve` child process on a free loopback port.
final class BenchServerProcess {
    private let process = Process()
    private let output = BenchOutput()
    /// The port it listens on.
    private(set) var port = 0

    /// Starts `executable arguments` and returns once the server listens and its storage is
    /// ready (`/healthz` answers `200`: a PostgreSQL server migrates after it starts listening).
    init(executable: String, arguments: [String]) async throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["FERRY_LOG_LEVEL"] = "warning"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        output.collect(from: pipe)
        try process.run()

        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            // "Ferry listening on http://127.0.0.1:PORT (data: …)"
            if let line = output.text.split(separator: "\n").first(where: { $0.hasPrefix("Ferry listening on ") }),
                let address = line.dropFirst("Ferry listening on http://".count).split(separator: " ").first,
                let text = address.split(separator: ":").last, let port = Int(text)
            {
                self.port = port
                if try await Self.isHealthy(port: port) { return }
            }
            guard process.isRunning, ContinuousClock.now < deadline else {
                if process.isRunning { process.terminate() }
                throw BenchError("ferry serve did not start: \(output.text)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The server's root URL.
    var baseURL: String { "http://127.0.0.1:\(port)" }

    private static func isHealthy(port: Int) async throws -> Bool {
        let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz")
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(5)) else { return false }
        _ = try? await response.body.collect(upTo: 1 << 16)
        return response.status == .ok
    }

    /// How the child ended, when it did: `exited with status N` or `was killed by signal N`.
    var exitDescription: String? {
        guard !process.isRunning else { return nil }
        return process.terminationReason == .uncaughtSignal
            ? "was killed by signal \(process.terminationStatus)" : "exited with status \(process.terminationStatus)"
    }

    /// What the server printed so far (standard output and error).
    var printed: String { output.text }

    /// Stops it with SIGTERM (SIGKILL after 30 seconds) and waits for it to end.
    func stop() async {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(30)
        while process.isRunning {
            if ContinuousClock.now > deadline { kill(process.processIdentifier, SIGKILL) }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    deinit {
        if process.isRunning { process.terminate() }
    }
}

/// Text a child process writes into a pipe, collected as it comes.
final class BenchOutput: Sendable {
    private let buffer = Mutex((text: "", closed: false))

    /// Everything read so far.
    var text: String { buffer.withLock { $0.text } }

    /// Whether the writer closed the pipe (so ``text`` is complete).
    var closed: Bool { buffer.withLock { $0.closed } }

    /// Reads `pipe` in the background until its writer closes it.
    func collect(from pipe: Pipe) {
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                self.buffer.withLock { $0.closed = true }
                return
            }
            self.buffer.withLock { $0.text += String(decoding: data, as: UTF8.self) }
        }
    }
}

/// A benchmark that could not run as planned.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
