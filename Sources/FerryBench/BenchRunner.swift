import FerryClient
import FerryCore
import FerryHTTP
import FerryServer
import Foundation
import Synchronization

/// A workload of `ferry bench`.
package enum BenchWorkload: String, CaseIterable, Sendable {
    case push, pull, sync, latency, sidecar, backlog, stream, bootstrap, bulk, caldav, fanout
    case growth
    case wire

    /// The workloads a run without `--workload` measures: all but `caldav`, which needs
    /// Radicale.
    package static let defaults: [BenchWorkload] = allCases.filter { $0 != .caldav }
}

/// What one `ferry bench` run measures, and how much.
package struct BenchPlan: Sendable {
    /// The workloads, in the order they run.
    package var workloads: [BenchWorkload]
    /// Mutations of push and pull, records of sync.
    package var count: Int
    /// Mutations that accumulate while the backlog device is offline.
    package var backlog: Int
    /// Rounds of each workload (and of its ceiling) but the backlog.
    package var rounds: Int
    /// Rounds of the backlog workload (and of its ceiling).
    package var backlogRounds: Int
    /// Writes of the latency workload.
    package var latencyWrites: Int
    /// Writes of the latency workload that A's manager notices by itself (each waits out
    /// the debounce): a tenth of the latency writes, at most 100.
    package var noticedWrites: Int { max(1, min(100, latencyWrites / 10)) }
    /// Writes of the sidecar workload.
    package var sidecarWrites: Int
    /// Concurrent clients of the push workload.
    package var pushClients: [Int] = [1, 4]
    /// Mutations per push request.
    package var batchSize = 500
    /// The `ferry` executable started as server and client children.
    package var ferry: String
    /// Events of the caldav workload.
    package var caldavEvents: Int
    /// The `radicale` executable the caldav workload starts, if any.
    package var radicale: String?
    /// The sizes of the fanout workload: devices holding long-polls on one space.
    package var fanoutDevices: [Int]
    /// Pushes of each fanout size, each timed until every device has it.
    package var fanoutPushes: Int
    /// Whether the fanout workload runs at smoke-test length (a shorter idle window).
    package var quickFanout: Bool
    /// The channels the fanout workload's devices hold, each measured in turn.
    package var fanoutChannels: [FanoutChannel]
    /// Log sizes of the growth workload (mutations seeded into its space before each point).
    package var growthLogSizes: [Int]
    /// Space counts of the growth workload (spaces of 10 mutations on its second server).
    package var growthSpaces: [Int]
    /// Whether the servers offer the gzip coding and the bench's transports use it
    /// (`--compression`); the wire workload's server always offers it, since it measures both.
    package var compression = BenchCompression.auto
    /// Mutations pushed, and pulled, at each point of the growth workload, per round.
    package var growthCount: Int

    /// A plan with the sizes given, else the defaults of a full run (`quick`: of a smoke
    /// test): N 200,000 (5,000), backlog 1,000,000 (20,000), 3 rounds (1), 1 backlog round,
    /// 1,000 latency writes (200), 300 sidecar writes (50); fanout sizes 500, 2,000 and 5,000
    /// devices (100) with 20 pushes each (3); growth log sizes 0, 100,000 and 1,000,000 (0,
    /// 10,000, 100,000: the 10,000,000 takes minutes to seed, so it is asked for with
    /// `--growth-sizes`), growth spaces 1,000 and 100,000 (100 and 1,000), growth pushes and
    /// pulls of 20,000 mutations (2,000); every workload when `workloads` is empty;
    /// `ferry` the running executable when not given.
    package init(
        workloads: [BenchWorkload],
        quick: Bool,
        count: Int?,
        backlog: Int?,
        rounds: Int?,
        backlogRounds: Int?,
        latencyWrites: Int?,
        sidecarWrites: Int? = nil,
        ferry: String?,
        caldavEvents: Int? = nil,
        radicale: String? = nil,
        fanoutDevices: [Int]? = nil,
        fanoutPushes: Int? = nil,
        fanoutChannels: [FanoutChannel]? = nil,
        growthLogSizes: [Int]? = nil,
        growthSpaces: [Int]? = nil,
        growthCount: Int? = nil
    ) {
        self.workloads = workloads.isEmpty ? BenchWorkload.defaults : workloads
        self.count = count ?? (quick ? 5_000 : 200_000)
        self.backlog = backlog ?? (quick ? 20_000 : 1_000_000)
        self.rounds = rounds ?? (quick ? 1 : 3)
        self.backlogRounds = backlogRounds ?? 1
        self.latencyWrites = latencyWrites ?? (quick ? 200 : 1000)
        self.sidecarWrites = sidecarWrites ?? (quick ? 50 : 300)
        self.ferry = ferry ?? FerryExecutable.current
        self.caldavEvents = caldavEvents ?? (quick ? 1_000 : 10_000)
        self.radicale = radicale
        self.fanoutDevices = fanoutDevices ?? (quick ? [100] : [500, 2000, 5000])
        self.fanoutPushes = fanoutPushes ?? (quick ? 3 : 20)
        quickFanout = quick
        self.fanoutChannels = fanoutChannels ?? FanoutChannel.allCases
        self.growthLogSizes = growthLogSizes ?? (quick ? [0, 10_000, 100_000] : [0, 100_000, 1_000_000])
        self.growthSpaces = growthSpaces ?? (quick ? [100, 1_000] : [1_000, 100_000])
        self.growthCount = growthCount ?? (quick ? 2_000 : 20_000)
    }
}

/// Whether a bench run uses the protocol's gzip coding (`ferry bench --compression`).
package enum BenchCompression: String, Sendable, CaseIterable {
    /// The servers offer it and the transports decide, as by default: not to a loopback
    /// server, so not in a local run.
    case auto
    /// The servers offer it and every transport uses it.
    case on
    /// The servers are run with `--compression off` and no transport uses it.
    case off

    /// The transports' setting.
    package var transport: HTTPTransportConfiguration.Compression {
        switch self {
        case .auto: .automatic
        case .on: .always
        case .off: .never
        }
    }
}

/// What the fanout workload's devices hold to hear of new mutations.
package enum FanoutChannel: String, Sendable, CaseIterable {
    /// `GET /sync/mutations/pull?wait=60`, pulled again after each answer.
    case longpoll
    /// The live channel, `GET /sync/mutations/live` (a WebSocket).
    case websocket
}

/// Where the workloads' servers come from: children on a store, or a running server.
package enum BenchTarget: Sendable {
    /// A fresh `ferry serve` child per workload, on `store`.
    case local(BenchStore)
    /// A running server: every workload uses `space`, which `token` must grant.
    case remote(url: String, token: String, space: String, storeName: String)
}

/// Runs the workloads of a plan against a target, each next to its ceiling, and collects
/// the results.
package final class BenchRunner {
    let plan: BenchPlan
    let target: BenchTarget
    let progress = BenchProgress()
    /// A temporary folder for data folders, device databases and ceiling databases.
    let root: URL
    private(set) var results: [BenchResult] = []
    private(set) var ceilings: [BenchCeiling] = []
    /// The next unused record index: records are never written twice in a run.
    private var nextRecord = 0
    /// Called with each result as soon as its workload ends.
    var onResult: (BenchResult) -> Void = { _ in }

    /// A runner of `plan` against `target`, with a new temporary folder (removed with it).
    package init(plan: BenchPlan, target: BenchTarget) throws {
        self.plan = plan
        self.target = target
        root = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-bench-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: root)
    }

    /// `sqlite` or `postgres`.
    package var storeName: String {
        switch target {
        case .local(let store): store.name
        case .remote(_, _, _, let name): name
        }
    }

    /// The commit durability the SQLite ceilings use: the server's.
    var durability: SQLiteConfiguration.Durability {
        if case .local(.sqlite(let durability)) = target { return durability }
        return .full
    }

    /// Runs every workload of the plan.
    package func run() async throws {
        for workload in plan.workloads {
            switch workload {
            case .push: try await runPush()
            case .pull: try await runPull()
            case .sync: try await runSync()
            case .latency: try await runLatency()
            case .sidecar: try await runSidecar()
            case .backlog: try await runBacklog()
            case .stream: try await runStream()
            case .bootstrap: try await runBootstrap()
            case .bulk: try await runBulk()
            case .caldav: try await runCalDAV()
            case .fanout: try await runFanout()
            case .growth: try await runGrowth()
            case .wire: try await runWire()
            }
        }
        progress.finish()
    }

    // MARK: Servers and records

    /// Runs `body` with a server for the workload `name` (a fresh child, or `servers` children
    /// sharing a PostgreSQL store, stopped afterwards, with a token for `spaces` and
    /// `serverArguments` added to `ferry serve`'s, and `--compression off` when the plan says
    /// so unless `keepsCompression`; or the given running server).
    func withServer<T>(
        _ name: String,
        spaces: [String],
        servers: Int = 1,
        serverArguments: [String] = [],
        keepsCompression: Bool = false,
        _ body: (BenchServer) async throws -> T
    ) async throws -> T {
        let compression = plan.compression != .off || keepsCompression ? [] : ["--compression", "off"]
        let server: BenchServer
        switch target {
        case .local(let store):
            progress.show("\(name): starting ferry serve")
            server = try await store.launch(
                ferry: plan.ferry,
                folder: root.appendingPathComponent("server-\(name)"),
                spaces: spaces,
                servers: servers,
                arguments: serverArguments + compression
            )
        case .remote(let url, let token, let space, _):
            server = BenchServer(baseURL: url, token: token, fixedSpace: space, process: nil, dataFolder: nil)
        }
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            let printed = server.process?.printed ?? ""
            let exit = server.process?.exitDescription
            await server.stop()
            if !printed.isEmpty { FileHandle.standardError.write(Data("\nferry serve printed:\n\(printed)\n".utf8)) }
            if let exit { FileHandle.standardError.write(Data("ferry serve \(exit) before the workload ended\n".utf8)) }
            throw error
        }
    }

    /// Runs `body` with a transport to `server` (one HTTP client, which opens up to 8
    /// connections), with a generous timeout for large pages on a loaded machine; shuts the
    /// transport down afterwards.
    func withTransport<T>(_ server: BenchServer, _ body: (HTTPTransport) async throws -> T) async throws -> T {
        try await withTransport(baseURL: server.baseURL, token: server.token, body)
    }

    /// Runs `body` with a transport to the server at `baseURL`, as above.
    func withTransport<T>(baseURL: String, token: String, _ body: (HTTPTransport) async throws -> T) async throws -> T {
        let transport = HTTPTransport(
            configuration: HTTPTransportConfiguration(
                baseURL: baseURL,
                accessToken: token,
                requestTimeout: .seconds(120),
                compression: plan.compression.transport
            )
        )
        do {
            let result = try await body(transport)
            try? await transport.shutdown()
            return result
        } catch {
            try? await transport.shutdown()
            throw error
        }
    }

    /// `count` record indexes never used before in this run.
    func freshRecords(_ count: Int) -> Range<Int> {
        defer { nextRecord += count }
        return nextRecord..<(nextRecord + count)
    }

    /// The push requests of records `range`: `clients` devices, each with a contiguous share,
    /// in batches of the plan's size.
    func pushRequests(space: String, range: Range<Int>, clients: Int, tag: String) -> [[PushRequest]] {
        let share = (range.count + clients - 1) / clients
        return (0..<clients).map { client in
            let lower = range.lowerBound + client * share
            let slice = lower..<min(lower + share, range.upperBound)
            return BenchRecords.batches(slice, size: plan.batchSize).map { batch in
                PushRequest(space: space, deviceID: "d-\(tag)-c\(client)", sessionID: "s-1", mutations: BenchRecords.inputs(batch))
            }
        }
    }

    /// Sends each client's requests in order, the clients concurrently, client `i` through
    /// `transports[i % transports.count]`; checks that every mutation was accepted.
    static func push(_ requests: [[PushRequest]], through transports: [HTTPTransport]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (client, clientRequests) in requests.enumerated() {
                let transport = transports[client % transports.count]
                group.addTask {
                    for request in clientRequests {
                        let response = try await pushRetrying(request, through: transport)
                        // A retried push may find some of its mutations stored by the attempt
                        // that failed: those come back as duplicates, which count as accepted.
                        let duplicates = response.rejected.filter { $0.reason == .duplicate }.count
                        guard response.accepted + duplicates == request.mutations.count else {
                            throw BenchError(
                                "push: the server accepted \(response.accepted) of \(request.mutations.count) mutations: \(response.rejected.prefix(3))"
                            )
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Pushes sent again after a transient failure, in this run.
    static let pushRetries = Atomic<Int>(0)

    /// Pushes `request`, sending it again after a transient failure (a `503` from a server
    /// whose database is slow to answer, say) with a growing pause, up to 8 times, as a
    /// client does; each retry is said on standard error and counted in the results, and its
    /// time stays in the figure.
    private static func pushRetrying(_ request: PushRequest, through transport: HTTPTransport) async throws -> PushResponse {
        var attempt = 1
        while true {
            do {
                return try await transport.push(request)
            } catch let error as SyncTransportError where error.kind == .transient && attempt < 9 {
                pushRetries.add(1, ordering: .relaxed)
                FileHandle.standardError.write(Data("\nferry bench: push failed (\(error.message)); sending it again\n".utf8))
                try await Task.sleep(for: .milliseconds(min(4000, 250 << (attempt - 1))))
                attempt += 1
            }
        }
    }

    /// Writes records `range` into `space`: straight into the store when it allows, else
    /// pushed through the server by four clients.
    func fill(_ server: BenchServer, space: String, range: Range<Int>, tag: String) async throws {
        if case .local(let store) = target, try await store.fillDirectly(server, space: space, range: range, device: "d-\(tag)") {
            return
        }
        try await withTransport(server) { transport in
            for part in BenchRecords.batches(range, size: 100_000) {
                try await Self.push(
                    pushRequests(space: space, range: part, clients: 4, tag: "\(tag)-\(part.lowerBound)"),
                    through: [transport]
                )
            }
        }
    }

    /// The space's head now.
    func head(_ server: BenchServer, space: String, transport: HTTPTransport) async throws -> Int64 {
        try await transport.pull(space: space, since: 0, limit: 1, excludeDevice: nil, wait: nil).headSeq
    }

    func record(_ result: BenchResult) {
        results.append(result)
        onResult(result)
    }

    func record(_ ceiling: BenchCeiling) { ceilings.append(ceiling) }

    // MARK: push and pull

    /// `push`: N mutations in batches from 1 and from 4 concurrent clients (and, on
    /// PostgreSQL, from 4 clients spread over two servers); mutations per second accepted.
    /// Ceiling: raw inserts of the same rows into the store's database.
    func runPush() async throws {
        var setups = plan.pushClients.map { (clients: $0, servers: 1) }
        if case .local(.postgres) = target, let most = plan.pushClients.max() { setups.append((most, 2)) }
        let spaces = setups.flatMap { setup in (1...plan.rounds).map { "push-c\(setup.clients)-s\(setup.servers)-r\($0)" } }
        try await withServer("push", spaces: spaces, servers: setups.map(\.servers).max() ?? 1) { server in
            var ceilingRates: [Double] = []
            var ceiling: BenchCeiling?
            for setup in setups {
                let urls = Array(server.baseURLs.prefix(setup.servers))
                let retriesBefore = Self.pushRetries.load(ordering: .relaxed)
                let rates = try await withTransports(urls, token: server.token) { transports in
                    var rates: [Double] = []
                    for round in 1...plan.rounds {
                        if setup == setups[0] { ceilingRates.append(try await pushCeiling(server, round: round)) }
                        let tag = "push-c\(setup.clients)-s\(setup.servers)-r\(round)"
                        let requests = pushRequests(
                            space: server.space(tag),
                            range: freshRecords(plan.count),
                            clients: setup.clients,
                            tag: tag
                        )
                        progress.show(
                            "push: \(plan.count) mutations from \(setup.clients) client(s) through \(setup.servers) server(s), round \(round)/\(plan.rounds)"
                        )
                        let elapsed = try await ContinuousClock().measure { try await Self.push(requests, through: transports) }
                        rates.append(Double(plan.count) / elapsed.seconds)
                    }
                    return rates
                }
                if ceiling == nil {
                    let postgres = storeName == "postgres"
                    let measured = BenchCeiling(
                        name: postgres ? "pg_insert_log" : "sqlite_insert_log",
                        label: postgres
                            ? "raw PostgreSQL multi-row insert per batch, server's mutation table"
                            : "raw SQLite insert, server's mutation table",
                        stats: BenchStats(ceilingRates),
                        unit: "rows/s"
                    )
                    record(measured)
                    ceiling = measured
                }
                let stats = BenchStats(rates)
                let goal: Double = storeName == "postgres" ? 50_000 : 100_000
                var result = BenchResult(
                    workload: "push",
                    store: storeName,
                    clients: setup.clients,
                    stats: stats,
                    unit: "mutations/s",
                    ceiling: ceiling,
                    target: ("≥ \(BenchTable.grouped(Int(goal)))/s", stats.median >= goal)
                )
                let retries = Self.pushRetries.load(ordering: .relaxed) - retriesBefore
                if retries > 0 { result.extra.append(("retries", Double(retries))) }
                // Said where servers can be several (PostgreSQL), so that 1 and 2 compare.
                if case .local(.postgres) = target { result.servers = setup.servers }
                record(result)
            }
        }
    }

    /// One round of the push ceiling: raw inserts of N rows into SQLite (a new file) or into
    /// a new table of the workload's PostgreSQL database, in batches of the push's size.
    private func pushCeiling(_ server: BenchServer, round: Int) async throws -> Double {
        if let postgres = server.postgres {
            progress.show("push: ceiling, raw PostgreSQL insert of \(plan.count) rows (round \(round))")
            return try await BenchPostgres.insertCeiling(url: postgres.url, count: plan.count, batch: plan.batchSize)
        }
        progress.show("push: ceiling, raw SQLite insert of \(plan.count) rows (round \(round))")
        return try BenchCeilings.sqliteLogInsert(count: plan.count, folder: root, durability: durability)
    }

    /// Runs `body` with one transport per URL, shut down afterwards.
    private func withTransports<T>(_ urls: [String], token: String, _ body: ([HTTPTransport]) async throws -> T) async throws -> T {
        guard let first = urls.first else { return try await body([]) }
        return try await withTransport(baseURL: first, token: token) { transport in
            try await withTransports(Array(urls.dropFirst()), token: token) { rest in try await body([transport] + rest) }
        }
    }

    /// `pull`: a log of N mutations pulled from zero with the default page size; mutations
    /// per second received and decoded. Ceiling: JSON encoding and decoding of the same pages.
    func runPull() async throws {
        try await withServer("pull", spaces: ["pull"]) { server in
            try await withTransport(server) { transport in
                let space = server.space("pull")
                let start = try await head(server, space: space, transport: transport)
                progress.show("pull: writing \(plan.count) mutations")
                try await fill(server, space: space, range: freshRecords(plan.count), tag: "pull-writer")
                var rates: [Double] = []
                var ceilingRates: [Double] = []
                for round in 1...plan.rounds {
                    progress.show("pull: ceiling, JSON encode and decode of \(plan.count) mutations (round \(round))")
                    ceilingRates.append(try BenchCeilings.json(count: plan.count, page: 500).both)
                    progress.show("pull: \(plan.count) mutations, round \(round)/\(plan.rounds)")
                    var received = 0
                    let elapsed = try await ContinuousClock().measure {
                        // As the sync engine pulls: the next page is on its way while this one is counted.
                        var pages = PullReadAhead(transport: transport, space: space)
                        defer { pages.cancel() }
                        var since = start
                        while received < plan.count {
                            let page = try await pages.page(since: since)
                            pages.fetchAhead(after: page)
                            received += page.mutations.count
                            since = page.latestSeq
                            if !page.hasMore { break }
                        }
                    }
                    guard received >= plan.count else { throw BenchError("pull: received \(received) of \(plan.count) mutations") }
                    rates.append(Double(received) / elapsed.seconds)
                }
                let ceiling = BenchCeiling(
                    name: "json_encode_decode",
                    label: "JSON write + read of the pull pages, no I/O",
                    stats: BenchStats(ceilingRates),
                    unit: "mutations/s"
                )
                record(ceiling)
                let stats = BenchStats(rates)
                record(
                    BenchResult(
                        workload: "pull",
                        store: storeName,
                        clients: 1,
                        stats: stats,
                        unit: "mutations/s",
                        ceiling: ceiling,
                        target: ("≥ 200,000/s", stats.median >= 200_000)
                    )
                )
            }
        }
    }
}
