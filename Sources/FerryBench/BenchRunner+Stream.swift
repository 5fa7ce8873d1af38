import FerryCore
import FerryHTTP
import FerryLog
import Foundation

#if os(Linux)
    /// glibc's `malloc_trim`: gives the heap's free pages back to the system.
    @_silgen_name("malloc_trim")
    private func trimMalloc(_ pad: Int) -> Int32
#endif

/// A processor that keeps nothing but the last seq, to check that the events arrive in
/// ascending order: the stream workload measures the stream and the pipeline.
private final class OrderCheckingProcessor: EventProcessor {
    private var last: Int64 = 0

    func process(_ events: [StreamEvent], type: String) async throws {
        for event in events {
            guard event.acknowledgement.seq > last else {
                throw BenchError("stream: \(event.ack) arrived after seq \(last)")
            }
            last = event.acknowledgement.seq
        }
    }

    func reset() async throws { last = 0 }
}

extension BenchRunner {
    /// `stream`: a backlog of B mutations (the backlog size) streamed to a new device through
    /// `HTTPEventStream` and `EventPipeline` with a processor that keeps nothing, acks as the
    /// pipeline sends them; events per second, the time to the first event of the backlog, and
    /// the peak resident memory of the client (this process) and of the server. Ceiling: the
    /// same events written as NDJSON from stored mutations and read back as `StreamEvent`s,
    /// with no I/O.
    func runStream() async throws {
        let count = plan.backlog
        try await withServer("stream", spaces: ["stream"]) { server in
            let space = server.space("stream")
            progress.show("stream: writing \(count) mutations")
            try await fill(server, space: space, range: freshRecords(count), tag: "stream-writer")
            // Pushing the backlog through the server (the memory store) leaves freed pages in
            // this process; give them back, so that the client's memory is the stream's.
            #if os(Linux)
                _ = trimMalloc(0)
            #endif
            let configuration = HTTPTransportConfiguration(
                baseURL: server.baseURL,
                accessToken: server.token,
                requestTimeout: .seconds(120),
                compression: plan.compression.transport
            )
            let serverPID = server.process?.process.processIdentifier
            var rates: [Double] = []
            var firsts: [Double] = []
            var ceilingRates: [Double] = []
            var clientPeak = 0.0
            var serverPeak = 0.0
            var quarters: (first: Double, last: Double) = (0, 0)
            var serverQuarters: (first: Double, last: Double) = (0, 0)
            for round in 1...plan.backlogRounds {
                progress.show("stream: time to the first event of \(count) (round \(round))")
                let probe = HTTPEventStream(
                    configuration: configuration,
                    space: space,
                    deviceID: "first-\(round)-\(UUID().uuidString.prefix(8))"
                )
                let started = ContinuousClock.now
                var first: [UInt8]?
                do {
                    var lines = try await probe.open(types: [BenchRecords.entity]).makeAsyncIterator()
                    first = try await lines.next()
                }
                firsts.append((ContinuousClock.now - started).milliseconds)
                try await probe.shutdown()
                guard let first, (try? StreamEvent(line: first))?.type == BenchRecords.entity else {
                    throw BenchError("stream: the first line is not an event of \(BenchRecords.entity)")
                }

                progress.show("stream: \(count) events, round \(round)/\(plan.backlogRounds)")
                let stream = HTTPEventStream(
                    configuration: configuration,
                    space: space,
                    deviceID: "bench-\(round)-\(UUID().uuidString.prefix(8))"
                )
                let pipeline = EventPipeline(stream: stream, types: [BenchRecords.entity])
                let clock = ContinuousClock()
                let start = clock.now
                let (result, samples) = try await RSSSampler.sampling(pids: [nil, serverPID], every: .milliseconds(100)) {
                    try await pipeline.run(processor: OrderCheckingProcessor())
                }
                let elapsed = clock.now - start
                try await stream.shutdown()
                guard result.totals[BenchRecords.entity] == count, result.completedThrough != nil else {
                    throw BenchError(
                        "stream: \(result.totals) of \(count) events, completed: \(String(describing: result.completedThrough))"
                    )
                }
                rates.append(Double(count) / elapsed.seconds)
                clientPeak = max(clientPeak, samples.map(\.megabytes[0]).max() ?? 0)
                serverPeak = max(serverPeak, samples.map(\.megabytes[1]).max() ?? 0)
                let quarter = max(1, samples.count / 4)
                quarters = (
                    samples.prefix(quarter).map(\.megabytes[0]).max() ?? 0,
                    samples.suffix(quarter).map(\.megabytes[0]).max() ?? 0
                )
                serverQuarters = (
                    samples.prefix(quarter).map(\.megabytes[1]).max() ?? 0,
                    samples.suffix(quarter).map(\.megabytes[1]).max() ?? 0
                )
            }
            // After the rounds: the ceiling holds the whole backlog in this process's memory,
            // which would otherwise count as the client's.
            for round in 1...plan.backlogRounds {
                progress.show("stream: ceiling, NDJSON write + read of \(count) events (round \(round))")
                ceilingRates.append(try await BenchCeilings.streamJSON(count: count))
            }
            let ceiling = BenchCeiling(
                name: "stream_json",
                label: "NDJSON write + StreamEvent read of the same events, no I/O",
                stats: BenchStats(ceilingRates),
                unit: "events/s"
            )
            record(ceiling)
            let stats = BenchStats(rates)
            let firstEvent = BenchStats(firsts).median
            record(
                BenchResult(
                    workload: "stream",
                    store: storeName,
                    clients: 1,
                    stats: stats,
                    unit: "events/s",
                    ceiling: ceiling,
                    extra: [
                        ("first_event_ms", firstEvent), ("client_peak_rss_mb", clientPeak), ("server_peak_rss_mb", serverPeak),
                        ("client_rss_first_quarter_mb", quarters.first), ("client_rss_last_quarter_mb", quarters.last),
                        ("server_rss_first_quarter_mb", serverQuarters.first), ("server_rss_last_quarter_mb", serverQuarters.last),
                    ],
                    target: (
                        "≥ 300,000/s, first event < 50 ms, client < 100 MB",
                        stats.median >= 300_000 && firstEvent < 50 && clientPeak < 100
                    )
                )
            )
        }
    }
}

extension BenchCeilings {
    /// The stream without I/O: `count` records in a memory log, streamed as the server does
    /// (`StreamLines`, pages of 1000 written as NDJSON), split into lines and read as
    /// `StreamEvent`s as the pipeline does. Answers events per second.
    static func streamJSON(count: Int) async throws -> Double {
        let log = MemoryEventLog()
        for part in BenchRecords.batches(0..<count, size: 1000) {
            _ = try await log.append(
                AppendBatch(space: "ceiling", deviceID: "d", sessionID: "s", mutations: BenchRecords.newMutations(part))
            )
        }
        let endpoints = SyncEndpoints(eventLog: log, configuration: ServerConfiguration())
        var events = 0
        let elapsed = try await ContinuousClock().measure {
            let pages = try await endpoints.openStream(
                StreamRequest(space: "ceiling", deviceID: "d", types: [BenchRecords.entity]),
                authorize: { _ in }
            )
            for try await page in pages {
                for line in page.bytes.split(separator: UInt8(ascii: "\n")) {
                    let event = try StreamEvent(line: line)
                    if !event.isComplete { events += 1 }
                }
            }
        }
        guard events == count else { throw BenchError("stream ceiling: read \(events) of \(count) events") }
        return Double(count) / elapsed.seconds
    }
}
