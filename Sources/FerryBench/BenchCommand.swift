import ArgumentParser
import FerryCore
import FerryServer
import Foundation
import Logging

/// `ferry bench`: the benchmark suite, with the limits it is bound by measured in the same run.
package struct BenchCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure push, pull, sync, latency, sidecar and backlog, each next to its ceiling.",
        discussion: """
            Each workload starts its own `ferry serve` child on loopback with a temporary data
            folder (or uses --server), writes records of about 200 bytes of JSON, and reports the
            median of its rounds with min and max, next to a ceiling measured in the same run:
            raw SQLite inserts of the same rows, or JSON encoding and decoding of the same
            mutations. Build in release mode first: swift build -c release. See docs/benchmarks.md.
            """
    )

    @Flag(name: .long, help: "Small sizes and one or two rounds: every workload in under a minute (a smoke test).")
    var quick = false

    @Flag(name: .long, help: "Print one JSON object per line (results, then ceilings) instead of the table.")
    var json = false

    @Option(name: .long, help: "Mutations of push and pull, records of sync (default 200000; --quick 5000).")
    var n: Int?

    @Option(name: .long, help: "Mutations of the backlog, the stream and bulk, records of bootstrap (default 1000000; --quick 20000).")
    var backlog: Int?

    @Option(name: .long, help: "Rounds of each workload and ceiling but the backlog (default 3; --quick 1).")
    var rounds: Int?

    @Option(name: .long, help: "Rounds of the backlog, the stream and their ceilings (default 1: a round takes minutes).")
    var backlogRounds: Int?

    @Option(
        name: .long,
        help: "Writes of the latency workload (default 1000; --quick 200); a tenth of them, at most 100, also without telling the manager."
    )
    var latencyWrites: Int?

    @Option(name: .long, help: "Writes by Python of the sidecar workload (default 300; --quick 50).")
    var sidecarWrites: Int?

    @Option(
        name: .long,
        help:
            "A workload to run: push, pull, sync, latency, sidecar, backlog, stream, bootstrap, bulk, caldav, wire; repeat for more (default all but caldav)."
    )
    var workload: [String] = []

    @Option(name: .long, help: "Benchmark this running server instead of starting ferry serve children.")
    var server: String?

    @Option(name: .long, help: "With --server: an access token for --space (or env FERRY_BENCH_TOKEN).")
    var token: String?

    @Option(name: .long, help: "With --server: the space every workload writes into.")
    var space: String = "bench"

    @Option(name: .long, help: "With --server: the store it runs on, for the results (sqlite or postgres).")
    var serverStore: String = "sqlite"

    @Option(
        name: .long,
        help:
            "Benchmark the PostgreSQL store: each workload gets a new database on this server (its user must be allowed to create databases)."
    )
    var postgres: String?

    @Flag(name: .long, help: "Benchmark the in-memory store (ferry serve --memory): no disk on the push path.")
    var memory = false

    @Option(name: .long, help: "Commit durability of the SQLite servers and ceilings: full (default) or normal.")
    var durability: String = "full"

    @Option(name: .long, help: "The ferry executable to start as server and client (default: this one).")
    var ferry: String?

    @Option(name: .long, help: "Events of the caldav workload (default 10000; --quick 1000).")
    var caldavEvents: Int?

    @Option(
        name: .long,
        help: "The radicale executable of the caldav workload (default: FERRY_TEST_RADICALE, or .build/radicale-venv/bin/radicale)."
    )
    var radicale: String?

    /// The `radicale` executable: the flag's, `FERRY_TEST_RADICALE`, or the one `scripts/test` installs.
    private var radicaleExecutable: String? {
        if let radicale { return radicale }
        if let named = FerryEnvironment().value("FERRY_TEST_RADICALE"), !named.isEmpty { return named }
        let installed = FileManager.default.currentDirectoryPath + "/.build/radicale-venv/bin/radicale"
        return FileManager.default.isExecutableFile(atPath: installed) ? installed : nil
    }

    package func validate() throws {
        for name in workload where BenchWorkload(rawValue: name) == nil {
            throw ValidationError(
                "--workload must be push, pull, sync, latency, sidecar, backlog, stream, bootstrap, bulk, caldav or wire, not '\(name)'"
            )
        }
        if postgres != nil && server != nil { throw ValidationError("--postgres and --server exclude each other") }
        if memory && (postgres != nil || server != nil) { throw ValidationError("--memory excludes --postgres and --server") }
        for (name, value) in [
            ("--n", n), ("--backlog", backlog), ("--rounds", rounds), ("--backlog-rounds", backlogRounds),
            ("--latency-writes", latencyWrites), ("--sidecar-writes", sidecarWrites), ("--caldav-events", caldavEvents),
        ] {
            if let value, value < 1 { throw ValidationError("\(name) must be at least 1") }
        }
        if server != nil && serverToken == nil { throw ValidationError("--server needs --token (or FERRY_BENCH_TOKEN)") }
        guard ProtocolRules.isValidSpace(space) else { throw ValidationError("'\(space)' is not a space name") }
        guard ["sqlite", "postgres"].contains(serverStore) else { throw ValidationError("--server-store must be sqlite or postgres") }
        guard SQLiteConfiguration.Durability(rawValue: durability) != nil else {
            throw ValidationError("--durability must be full or normal")
        }
    }

    /// The token for `--server`: the flag's, else `FERRY_BENCH_TOKEN`.
    private var serverToken: String? { token ?? FerryEnvironment().value("FERRY_BENCH_TOKEN") }

    /// Creates the command with its defaults (ArgumentParser fills in the options).
    package init() {}

    package func run() async throws {
        logToStandardError(from: .warning)
        let plan = BenchPlan(
            workloads: workload.compactMap(BenchWorkload.init(rawValue:)),
            quick: quick,
            count: n,
            backlog: backlog,
            rounds: rounds,
            backlogRounds: backlogRounds,
            latencyWrites: latencyWrites,
            sidecarWrites: sidecarWrites,
            ferry: ferry,
            caldavEvents: caldavEvents,
            radicale: radicaleExecutable
        )
        guard FileManager.default.isExecutableFile(atPath: plan.ferry) else {
            throw ValidationError("no ferry executable at \(plan.ferry) (--ferry)")
        }
        let target: BenchTarget
        if let server, let token = serverToken {
            target = .remote(url: server, token: token, space: space, storeName: serverStore)
        } else if let postgres {
            target = .local(.postgres(url: postgres))
        } else if memory {
            target = .local(.memory)
        } else if let level = SQLiteConfiguration.Durability(rawValue: durability) {
            target = .local(.sqlite(durability: level))
        } else {
            throw ValidationError("--durability must be full or normal")
        }
        try await BenchRunner(plan: plan, target: target).runAndReport(json: json, durability: durability) { text in
            print(text)
            fflush(nil)
        }
    }
}
