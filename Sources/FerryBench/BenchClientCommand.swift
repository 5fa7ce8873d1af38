import ArgumentParser
import FerryServer
import Logging

/// `ferry bench-client` (hidden): the client side of the `sync` and `backlog` workloads, run
/// by `ferry bench` as a child process; prints one JSON line (see `BenchDevice.sync`).
package struct BenchClientCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "bench-client",
        abstract: "The client side of ferry bench's sync and backlog workloads (internal).",
        shouldDisplay: false
    )

    @Option(name: .long, help: "The server's URL.")
    var server: String

    @Option(name: .long, help: "The access token (default: env FERRY_BENCH_TOKEN).")
    var token: String?

    @Option(name: .long, help: "The space to sync.")
    var space: String

    @Option(name: .long, help: "The device's SQLite database (created when absent).")
    var db: String

    @Option(name: .long, help: "The rows the items table must hold after the sync.")
    var expect: Int?

    @Option(name: .long, help: "Bootstrap from a snapshot this many mutations ahead (default 10000; a huge value replays the log).")
    var bootstrapThreshold: Int64 = 10_000

    @Option(name: .long, help: "auto (default), on or off: whether the transport uses gzip (as ferry bench --compression).")
    var compression: String = "auto"

    /// Creates the command with its defaults (ArgumentParser fills in the options).
    package init() {}

    package func run() async throws {
        logToStandardError(from: .warning)
        guard let token = token ?? FerryEnvironment().value("FERRY_BENCH_TOKEN") else {
            throw ValidationError("bench-client needs --token or FERRY_BENCH_TOKEN")
        }
        guard let coding = BenchCompression(rawValue: compression) else {
            throw ValidationError("--compression must be auto, on or off")
        }
        let report = try await BenchDevice.sync(
            server: server,
            token: token,
            space: space,
            db: db,
            expect: expect,
            bootstrapThreshold: bootstrapThreshold,
            compression: coding.transport
        )
        print(report.line)
    }
}
