import FerryClient
import FerryCore
import FerryHTTP
import Foundation

extension BenchRunner {
    /// `growth`: how push and pull rates hold up as the store grows.
    ///
    /// The log curve: one space seeded (see ``BenchGrowthSeed``) up to each of the plan's log
    /// sizes in turn, on one server; at each size, in each round, G mutations pushed by one
    /// client in batches of the push workload's size, then the newest G mutations pulled from
    /// `head - G` (each size does the same work). The spaces curve: on another server, S
    /// spaces of 10 mutations each, for each of the plan's space counts in turn; at each, in
    /// each round, G / 10 pushes of 10 mutations into random spaces of a random sample of
    /// 1,000 of them (or as many as the smallest count), then each space of the sample pulled from 0; the server's
    /// resident memory is read before the spaces exist and after each point's rounds.
    /// Mutations per second; the target of each point is a rate at least 0.8 of the smallest
    /// size's. No ceiling. Needs a local SQLite or PostgreSQL store.
    func runGrowth() async throws {
        guard case .local(let store) = target, store.name != "memory" else {
            progress.show("growth: skipped (it seeds a SQLite or PostgreSQL store of its own)")
            FileHandle.standardError.write(Data("\nferry bench: growth needs a SQLite or PostgreSQL store of its own: skipped\n".utf8))
            return
        }
        try await runGrowthOfLog(store)
        try await runGrowthOfSpaces(store)
    }

    /// The log curve of ``runGrowth()``.
    private func runGrowthOfLog(_ store: BenchStore) async throws {
        let count = plan.growthCount
        let sizes = plan.growthLogSizes.sorted()
        try await withServer("growth-log", spaces: ["growth"]) { server in
            let space = server.space("growth")
            var pushes: [BenchResult.GrowthPoint] = []
            var pulls: [BenchResult.GrowthPoint] = []
            try await withTransport(server) { transport in
                for size in sizes {
                    let current = Int(try await head(server, space: space, transport: transport))
                    if size > current {
                        progress.show("growth: seeding the log to \(BenchTable.grouped(size)) mutations")
                        try await BenchGrowthSeed.growLog(server, store: store, space: space, from: current, to: size)
                    }
                    var pushRates: [Double] = []
                    var pullRates: [Double] = []
                    for round in 1...plan.rounds {
                        let tag = "growth-\(size)-r\(round)"
                        progress.show("growth: log of \(BenchTable.grouped(size)), push of \(count), round \(round)/\(plan.rounds)")
                        let requests = pushRequests(space: space, range: freshRecords(count), clients: 1, tag: tag)
                        let pushed = try await ContinuousClock().measure { try await Self.push(requests, through: [transport]) }
                        pushRates.append(Double(count) / pushed.seconds)
                        progress.show(
                            "growth: log of \(BenchTable.grouped(size)), pull of the newest \(count), round \(round)/\(plan.rounds)"
                        )
                        let top = try await head(server, space: space, transport: transport)
                        let (received, pulled) = try await pullNewest(count, of: space, head: top, transport: transport)
                        pullRates.append(Double(received) / pulled.seconds)
                    }
                    pushes.append(.init(size: size, stats: BenchStats(pushRates)))
                    pulls.append(.init(size: size, stats: BenchStats(pullRates)))
                }
            }
            for phase in [("push", pushes), ("pull", pulls)] {
                for result in BenchResult.growth(
                    store: storeName,
                    phase: phase.0,
                    sizeField: "log_size",
                    unit: "mutations/s",
                    points: phase.1
                ) {
                    record(result)
                }
            }
        }
    }

    /// The newest `count` mutations of `space`, whose head is `head`, pulled with read-ahead as
    /// the sync engine pulls: how many came, and how long it took.
    private func pullNewest(_ count: Int, of space: String, head: Int64, transport: HTTPTransport) async throws -> (Int, Duration) {
        let start = max(0, head - Int64(count))
        let wanted = Int(head - start)
        var received = 0
        let elapsed = try await ContinuousClock().measure {
            var pages = PullReadAhead(transport: transport, space: space)
            defer { pages.cancel() }
            var since = start
            while received < wanted {
                let page = try await pages.page(since: since)
                pages.fetchAhead(after: page)
                try Self.checkGrowthPage(page)
                received += page.mutations.count
                since = page.latestSeq
                if !page.hasMore { break }
            }
        }
        guard received >= wanted else { throw BenchError("growth: pulled \(received) of \(wanted) mutations of \(space)") }
        return (received, elapsed)
    }

    /// Checks that the seeded mutations of a page came back as written.
    private static func checkGrowthPage(_ page: PullResponse) throws {
        for mutation in page.mutations where mutation.deviceID == "d-seed" {
            guard mutation.entityKey == "seed-\(mutation.clientActionID)", case .object(let payload)? = mutation.payload,
                payload["n"] == .int(mutation.clientActionID)
            else {
                throw BenchError("growth: seeded mutation \(mutation.seq) came back unlike it was written")
            }
        }
    }

    /// The spaces curve of ``runGrowth()``.
    private func runGrowthOfSpaces(_ store: BenchStore) async throws {
        let pushCount = max(1, plan.growthCount / BenchGrowthSeed.mutationsPerSpace)
        let counts = plan.growthSpaces.sorted()
        // The same sample size at every count, so that every point does the same work with a
        // token of the same size (the server reads a token's grant on every request).
        let sampleSize = min(Self.growthSample, counts.first ?? Self.growthSample)
        try await withServer("growth-spaces", spaces: ["growth"]) { server in
            let pid = server.process?.process.processIdentifier
            let rssBefore = pid.flatMap { ProcessMemory.residentMB(of: $0) } ?? .nan
            var pushes: [BenchResult.GrowthPoint] = []
            var pulls: [BenchResult.GrowthPoint] = []
            var existing = 0
            var generator = SystemRandomNumberGenerator()
            for spaces in counts {
                progress.show("growth: seeding \(BenchTable.grouped(spaces)) spaces of \(BenchGrowthSeed.mutationsPerSpace) mutations")
                try await BenchGrowthSeed.addSpaces(server, store: store, from: existing, to: spaces)
                existing = max(existing, spaces)
                let rssSeeded = pid.flatMap { ProcessMemory.residentMB(of: $0) } ?? .nan
                var pushRates: [Double] = []
                var pullRates: [Double] = []
                for round in 1...plan.rounds {
                    // A random sample, the same size at every count: a token per space for
                    // 100,000 spaces would make every request read a grant of 100,000 names.
                    let sample = (0..<spaces).shuffled(using: &generator).prefix(sampleSize).map(BenchGrowthSeed.spaceName)
                    let token = try await BenchGrowthSeed.issueToken(server, store: store, spaces: sample)
                    try await withTransport(baseURL: server.baseURL, token: token) { transport in
                        progress.show(
                            "growth: \(BenchTable.grouped(spaces)) spaces, \(pushCount) pushes into random ones, round \(round)/\(plan.rounds)"
                        )
                        let records = freshRecords(pushCount * BenchGrowthSeed.mutationsPerSpace)
                        let requests = BenchRecords.batches(records, size: BenchGrowthSeed.mutationsPerSpace).map { part in
                            PushRequest(
                                space: sample.randomElement(using: &generator) ?? sample[0],
                                deviceID: "d-growth-spaces",
                                sessionID: "s-\(round)",
                                mutations: BenchRecords.inputs(part)
                            )
                        }
                        let pushed = try await ContinuousClock().measure { try await Self.push([requests], through: [transport]) }
                        pushRates.append(Double(records.count) / pushed.seconds)
                        progress.show("growth: \(BenchTable.grouped(spaces)) spaces, \(sample.count) pulled, round \(round)/\(plan.rounds)")
                        var received = 0
                        let pulled = try await ContinuousClock().measure {
                            for space in sample {
                                let page = try await transport.pull(space: space, since: 0, limit: 1000, excludeDevice: nil, wait: nil)
                                try Self.checkGrowthPage(page)
                                received += page.mutations.count
                            }
                        }
                        guard received >= sample.count * BenchGrowthSeed.mutationsPerSpace else {
                            throw BenchError("growth: pulled \(received) mutations of \(sample.count) spaces")
                        }
                        pullRates.append(Double(received) / pulled.seconds)
                    }
                }
                let rssAfter = pid.flatMap { ProcessMemory.residentMB(of: $0) } ?? .nan
                let memory: [(String, Double)] = [
                    ("rss_mb_empty", rssBefore), ("rss_mb_seeded", rssSeeded), ("rss_mb", rssAfter),
                    ("kb_per_space", (rssAfter - rssBefore) * 1024 / Double(max(1, spaces))),
                ]
                pushes.append(.init(size: spaces, stats: BenchStats(pushRates), extra: memory))
                pulls.append(.init(size: spaces, stats: BenchStats(pullRates), extra: memory))
            }
            for phase in [("push", pushes), ("pull", pulls)] {
                for result in BenchResult.growth(
                    store: storeName,
                    phase: phase.0,
                    sizeField: "spaces",
                    unit: "mutations/s",
                    points: phase.1
                ) {
                    record(result)
                }
            }
        }
    }

    /// Spaces of the random sample the spaces curve pushes into and pulls, at most.
    static let growthSample = 1000
}
