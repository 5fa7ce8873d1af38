import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A `ferry serve` child process on a free loopback port: what the benchmark and the tests
/// start.
package final class ServerProcess: Sendable {
    /// The child process.
    package let process: Process
    private let output: ProcessOutput
    /// The port it listens on.
    package let port: Int

    /// Starts `executable serve --host 127.0.0.1 --port 0 arguments…` (with `FERRY_LOG_LEVEL`
    /// `warning`) and returns once it prints the line it listens on, and, with
    /// `waitUntilHealthy`, once `GET /healthz` answers `200` too (a PostgreSQL server
    /// migrates its schema after it starts listening). Its standard output is collected
    /// (``printed``), and so is its standard error with `capturesStandardError`, which
    /// otherwise goes to this process's. Throws when it has not started within 60 seconds.
    package init(
        executable: String = FerryExecutable.forTests,
        arguments: [String],
        waitUntilHealthy: Bool = false,
        capturesStandardError: Bool = false
    ) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["serve", "--host", "127.0.0.1", "--port", "0"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["FERRY_LOG_LEVEL"] = "warning"
        process.environment = environment
        let pipe = Pipe()
        let output = ProcessOutput()
        process.standardOutput = pipe
        process.standardError = capturesStandardError ? pipe : FileHandle.standardError
        output.collect(from: pipe)
        try process.run()
        self.process = process
        self.output = output

        let deadline = ContinuousClock.now + .seconds(60)
        var port: Int?
        while true {
            port = port ?? Self.listeningPort(in: output.text)
            if let port {
                if !waitUntilHealthy { break }
                if await Self.isHealthy(port: port) { break }
            }
            guard process.isRunning, ContinuousClock.now < deadline else {
                if process.isRunning { process.terminate() }
                throw ProcessError(message: "ferry serve did not start: \(output.text)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        self.port = port ?? 0
    }

    /// The port of "Ferry listening on http://127.0.0.1:PORT (…)", once printed.
    private static func listeningPort(in text: String) -> Int? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Ferry listening on ") }),
            let address = line.dropFirst("Ferry listening on http://".count).split(separator: " ").first,
            let port = address.split(separator: ":").last
        else { return nil }
        return Int(port)
    }

    private static func isHealthy(port: Int) async -> Bool {
        let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz")
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(5)) else { return false }
        _ = try? await response.body.collect(upTo: 1 << 16)
        return response.status == .ok
    }

    /// The server's root URL.
    package var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Everything it printed so far (standard output, and standard error when captured).
    package var printed: String { output.text }

    /// The value of the first printed line that starts with `label`, trimmed.
    package func printedValue(after label: String) -> String? {
        printed.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.hasPrefix(label) }
            .map { String($0.dropFirst(label.count)).trimmingCharacters(in: .whitespaces) }
    }

    /// How it ended, when it did: `exited with status N` or `was killed by signal N`.
    package var exitDescription: String? {
        guard !process.isRunning else { return nil }
        return process.terminationReason == .uncaughtSignal
            ? "was killed by signal \(process.terminationStatus)" : "exited with status \(process.terminationStatus)"
    }

    /// Sends `signal` and waits for it to end; answers its exit status. Throws when it has
    /// not ended within 60 seconds.
    @discardableResult
    package func stop(signal: Int32) async throws -> Int32 {
        let start = ContinuousClock.now
        kill(process.processIdentifier, signal)
        while process.isRunning {
            guard ContinuousClock.now < start + .seconds(60) else {
                throw ProcessError(message: "ferry serve did not stop within \(ContinuousClock.now - start) of signal \(signal)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return process.terminationStatus
    }

    /// Stops it with SIGTERM (SIGKILL after 30 seconds) and waits for it to end.
    package func stop() async {
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
