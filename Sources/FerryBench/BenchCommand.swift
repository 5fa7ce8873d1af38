import ArgumentParser
import FerryCore
import FerryServer
import Foundation
import Logging

/// `ferry bench`: the benchmark suite, with the limits it is bound by measured in the same run.
package struct BenchCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure push, pull, sync, latency, sidecar, backlog and growth, each next to its ceiling.",
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
            "A workload to run: push, pull, sync, latency, sidecar, backlog, stream, bootstrap, bulk, caldav, fanout, growth, wire; repeat for more (default all but caldav)."
    )
    var workload: [String] = []

    @Option(
        name: .long,
        help: "Log sizes of the growth workload, comma-separated (default 0,100000,1000000; --quick 0,10000,100000)."
    )
    var growthSizes: String?

    @Option(name: .long, help: "Space counts of the growth workload, comma-separated (default 1000,100000; --quick 100,1000).")
    var growthSpaces: String?

    @Option(name: .long, help: "Mutations pushed and pulled at each point of the growth workload (default 20000; --quick 2000).")
    var growthCount: Int?

    @Option(
        name: [.customLong("svg"), .customLong("plot")],
        help: ArgumentHelp("Also draw the growth and fan-out curves of the run as an SVG chart into this file.", valueName: "file")
    )
    var svg: String?

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

    @Option(
        name: .long,
        help: "Devices holding long-polls in the fanout workload, comma-separated (default 500,2000,5000; --quick 100)."
    )
    var devices: String?

    @Option(name: .long, help: "Pushes of each fanout size, each timed until every device has it (default 20; --quick 3).")
    var fanoutPushes: Int?

    @Option(
        name: .long,
        help: """
            auto (default: the servers offer gzip, the transports skip it to a loopback server), on (servers and \
            transports use it) or off (servers run --compression off). The wire workload measures both codings regardless.
            """
    )
    var compression: String = "auto"

    @Option(
        name: .long,
        help: "What the fanout workload's devices hold: longpoll, websocket (the live channel) or both, measured in turn (default both)."
    )
    var channel: String = "both"

    /// The channels of `--channel`.
    private var fanoutChannels: [FanoutChannel] {
        channel == "both" ? FanoutChannel.allCases : FanoutChannel(rawValue: channel).map { [$0] } ?? []
    }

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
                "--workload must be push, pull, sync, latency, sidecar, backlog, stream, bootstrap, bulk, caldav, fanout, growth or wire, not '\(name)'"
            )
        }
        if fanoutChannels.isEmpty { throw ValidationError("--channel must be longpoll, websocket or both, not '\(channel)'") }
        if postgres != nil && server != nil { throw ValidationError("--postgres and --server exclude each other") }
        if memory && (postgres != nil || server != nil) { throw ValidationError("--memory excludes --postgres and --server") }
        for (name, value) in [
            ("--n", n), ("--backlog", backlog), ("--rounds", rounds), ("--backlog-rounds", backlogRounds),
            ("--latency-writes", latencyWrites), ("--sidecar-writes", sidecarWrites), ("--caldav-events", caldavEvents),
            ("--fanout-pushes", fanoutPushes), ("--growth-count", growthCount),
        ] {
            if let value, value < 1 { throw ValidationError("\(name) must be at least 1") }
        }
        if let devices, Self.sizes(devices)?.contains(0) != false {
            throw ValidationError("--devices must be positive integers separated by commas, such as 500,2000")
        }
        for (name, list) in [("--growth-sizes", growthSizes), ("--growth-spaces", growthSpaces)] {
            guard let list else { continue }
            guard let sizes = Self.sizes(list), !sizes.isEmpty else {
                throw ValidationError("\(name) must be sizes separated by commas, such as 0,10000,100000")
            }
            if name == "--growth-spaces" && sizes.contains(0) { throw ValidationError("--growth-spaces must be at least 1") }
        }
        if server != nil && serverToken == nil { throw ValidationError("--server needs --token (or FERRY_BENCH_TOKEN)") }
        guard ProtocolRules.isValidSpace(space) else { throw ValidationError("'\(space)' is not a space name") }
        guard ["sqlite", "postgres"].contains(serverStore) else { throw ValidationError("--server-store must be sqlite or postgres") }
        guard SQLiteConfiguration.Durability(rawValue: durability) != nil else {
            throw ValidationError("--durability must be full or normal")
        }
        guard BenchCompression(rawValue: compression) != nil else { throw ValidationError("--compression must be auto, on or off") }
    }

    /// The sizes of a comma-separated list (`0,10000,100000`), `nil` when one is not a whole
    /// number of at least 0.
    static func sizes(_ list: String) -> [Int]? {
        let sizes = list.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard sizes.allSatisfy({ ($0 ?? -1) >= 0 }) else { return nil }
        return sizes.compactMap { $0 }
    }

    /// The token for `--server`: the flag's, else `FERRY_BENCH_TOKEN`.
    private var serverToken: String? { token ?? FerryEnvironment().value("FERRY_BENCH_TOKEN") }

    /// Creates the command with its defaults (ArgumentParser fills in the options).
    package init() {}

    package func run() async throws {
        logToStandardError(from: .warning)
        var plan = BenchPlan(
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
            radicale: radicaleExecutable,
            fanoutDevices: devices.flatMap(Self.sizes),
            fanoutPushes: fanoutPushes,
            fanoutChannels: fanoutChannels,
            growthLogSizes: growthSizes.flatMap(Self.sizes),
            growthSpaces: growthSpaces.flatMap(Self.sizes),
            growthCount: growthCount
        )
        plan.compression = BenchCompression(rawValue: compression) ?? .auto
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
        try await BenchRunner(plan: plan, target: target).runAndReport(json: json, durability: durability, svg: svg) { text in
            print(text)
            fflush(nil)
        }
    }
}
