import Foundation
import Synchronization

/// A real `ferry serve` child process.
public final class ServerProcess: Sendable {
    public let process: Process
    private final class Output: Sendable {
        let text = Mutex("")
        func withLock<T>(_ body: (inout String) -> T) -> T { text.withLock { body(&$0) } }
    }

    private let output: Output
    public let port: Int

    /// The path of the built `ferry` executable: `FERRY_BIN`, or beside the test binary, or
    /// in the package's `.build/debug`.
    public static var executable: String {
        if let path = ProcessInfo.processInfo.environment["FERRY_BIN"] { return path }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ferry")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside.path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/ferry").path
    }

    /// Starts `ferry serve` on a free port and returns once it listens.
    public init(arguments: [String]) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = ["serve", "--port", "0"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["FERRY_LOG_LEVEL"] = "warning"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.standardError
        let output = Output()
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                return
            }
            output.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
        self.process = process
        self.output = output

        let deadline = ContinuousClock.now + .seconds(60)
        var port: Int?
        while port == nil {
            // "Ferry listening on http://127.0.0.1:PORT (data: …)"
            if let line = output.withLock({ $0 }).split(separator: "\n").first(where: { $0.hasPrefix("Ferry listening on ") }),
                let address = line.dropFirst("Ferry listening on http://".count).split(separator: " ").first,
                let text = address.split(separator: ":").last
            {
                port = Int(text)
            }
            guard port == nil else { break }
            guard process.isRunning, ContinuousClock.now < deadline else {
                process.terminate()
                throw ProcessError(message: "ferry serve did not start: \(output.withLock { $0 })")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        self.port = port!
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Everything the process printed on standard output so far.
    public var printed: String { output.withLock { $0 } }

    /// The value of the first printed line that starts with `label`.
    public func printedValue(after label: String) -> String? {
        printed.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.hasPrefix(label) }
            .map { String($0.dropFirst(label.count)).trimmingCharacters(in: .whitespaces) }
    }

    /// Sends `signal` and waits for the process to end; answers its exit status.
    @discardableResult
    public func stop(signal: Int32) async throws -> Int32 {
        let start = ContinuousClock.now
        kill(process.processIdentifier, signal)
        let deadline = start + .seconds(60)
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                throw ProcessError(message: "ferry serve did not stop within \(ContinuousClock.now - start) of signal \(signal)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { process.terminate() }
    }
}

public struct ProcessError: Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
