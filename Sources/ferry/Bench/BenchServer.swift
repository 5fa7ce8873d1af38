import Foundation
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
    /// The child's data folder, when the bench started it.
    let dataFolder: URL?

    init(baseURL: String, token: String, fixedSpace: String?, process: BenchServerProcess?, dataFolder: URL?) {
        self.baseURL = baseURL
        self.token = token
        self.fixedSpace = fixedSpace
        self.process = process
        self.dataFolder = dataFolder
    }

    /// The space to use for `name`: `name` itself on a child server, the given space otherwise.
    func space(_ name: String) -> String { fixedSpace ?? name }

    /// Stops the child server, if any, and removes its data folder.
    func stop() async {
        await process?.stop()
        if let dataFolder { try? FileManager.default.removeItem(at: dataFolder) }
    }
}

/// A `ferry serve` child process on a free loopback port.
final class BenchServerProcess {
    private let process = Process()
    private let output = BenchOutput()
    /// The port it listens on.
    private(set) var port = 0

    /// Starts `executable arguments` and returns once the server prints its listening line.
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
                return
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
