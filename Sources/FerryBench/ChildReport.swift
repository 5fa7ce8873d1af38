import FerryCore
import Foundation

/// The one-line JSON report a `ferry` child prints last (`bench-client`, `snapshot --json`),
/// read with its numbers.
struct ChildReport {
    /// The report's members.
    var members: [String: JSONValue]
    /// The child's peak resident memory, in MiB, when it was sampled.
    var peakRSS: Double

    /// The number `name` of the report; NaN when it is not a number.
    func number(_ name: String) -> Double {
        switch members[name] {
        case .int(let value): Double(value)
        case .double(let value): value
        default: .nan
        }
    }

    /// Runs `ferry arguments…` (`environment` added to this process's), with its standard
    /// error passed through, sampling its resident memory every 50 ms when `sampling`;
    /// answers the last line it printed, read as a JSON object.
    /// - Throws: ``BenchError`` when it fails or prints no report.
    static func run(
        _ ferry: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        sampling: Bool = false
    ) async throws -> ChildReport {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ferry)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        let output = ProcessOutput()
        process.standardOutput = pipe
        process.standardError = FileHandle.standardError
        output.collect(from: pipe)
        try process.run()
        var peak = 0.0
        while process.isRunning {
            if sampling { peak = max(peak, ProcessMemory.residentMB(of: process.processIdentifier) ?? 0) }
            try await Task.sleep(for: .milliseconds(sampling ? 50 : 10))
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while !output.closed && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        let name = "ferry \(arguments.first ?? "")"
        guard process.terminationStatus == 0 else {
            throw BenchError("\(name) failed (status \(process.terminationStatus)): \(output.text)")
        }
        guard let line = output.text.split(separator: "\n").last,
            let members = try? JSONValue(parsing: Array(line.utf8)).objectValue
        else { throw BenchError("\(name) printed no report: \(output.text)") }
        return ChildReport(members: members, peakRSS: peak)
    }
}
