import AsyncHTTPClient
import FerryCore
import FerryHTTP
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

extension BenchRunner {
    /// `fanout`: for each size D of the plan and each channel (long-poll, live WebSocket), D
    /// devices hold the channel on one space of one server while another device pushes one
    /// mutation at a time; the time from the push until each device has it (p50, p99, max
    /// over every device of every push), the server's resident memory per held connection,
    /// and its CPU while they are held and nothing is written. Floor: an empty pull's round
    /// trip to the same server.
    func runFanout() async throws {
        for devices in plan.fanoutDevices {
            for channel in plan.fanoutChannels {
                // The server must hold every device's connection on the bench's one token.
                let limits = ["--max-long-polls-per-token", String(devices + 16), "--max-long-polls", String(devices + 16)]
                try await withServer("fanout-\(channel.rawValue)-\(devices)", spaces: ["fanout"], serverArguments: limits) { server in
                    try await withTransport(server) { transport in
                        let samples = try await measureFanout(devices: devices, channel: channel, server: server, transport: transport)
                        recordFanout(samples)
                    }
                }
            }
        }
    }

    /// What one size of the fanout workload measured.
    struct FanoutSamples {
        var devices: Int
        var channel: FanoutChannel
        /// Empty pulls' round trips, in ms.
        var floor: [Double]
        /// From the start of each push until each device had it, in ms.
        var delivered: [Double]
        /// The slowest device of each push, in ms.
        var slowestPerPush: [Double]
        /// The server's resident memory per held long-poll, in KiB (nil without a child).
        var residentPerPollKB: Double?
        /// The server's CPU while the long-polls were held and nothing was written, in percent
        /// of one core (nil without a child).
        var idleCPUPercent: Double?
    }

    private func measureFanout(
        devices: Int,
        channel: FanoutChannel,
        server: BenchServer,
        transport: HTTPTransport
    ) async throws -> FanoutSamples {
        let space = server.space("fanout")
        let pid = server.process?.process.processIdentifier
        // A first write, so that the server has served a push and a pull before memory is read.
        var head = try await pushOne(space: space, transport: transport, index: freshRecords(1).lowerBound)
        progress.show("fanout \(devices): floor, empty pull round trips")
        var floor: [Double] = []
        for _ in 0..<50 {
            let elapsed = try await ContinuousClock().measure {
                _ = try await transport.pull(space: space, since: head, limit: 1, excludeDevice: nil, wait: nil)
            }
            floor.append(elapsed.milliseconds)
        }
        let residentBefore = pid.flatMap { ProcessMemory.residentMB(of: $0) }

        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = HTTPClient.Configuration.ConnectionPool(
            idleTimeout: .seconds(300),
            concurrentHTTP1ConnectionsPerHostSoftLimit: devices + 8
        )
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(60), read: .seconds(120))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let arrivals = FanoutArrivals()
        let poll = FanoutPoll(baseURL: server.baseURL, token: server.token, space: space, client: client, arrivals: arrivals)
        let measured: Result<FanoutSamples, any Error>
        do {
            measured = .success(
                try await withThrowingTaskGroup(of: Void.self) { group in
                    defer { group.cancelAll() }
                    for device in 0..<devices {
                        switch channel {
                        case .longpoll:
                            group.addTask { [head] in try await poll.run(device: "d\(device)", since: head) }
                        case .websocket:
                            group.addTask { [head] in
                                try await FanoutLive.run(
                                    transport: transport,
                                    space: space,
                                    device: "d\(device)",
                                    since: head,
                                    arrivals: arrivals
                                )
                            }
                        }
                    }
                    progress.show("fanout \(devices): connecting the devices' \(channel.rawValue) channels")
                    try await waitForLongPolls(devices, channel: channel, server: server, arrivals: arrivals)
                    var samples = FanoutSamples(devices: devices, channel: channel, floor: floor, delivered: [], slowestPerPush: [])
                    if let pid {
                        samples.residentPerPollKB = ProcessMemory.residentMB(of: pid).flatMap { after in
                            residentBefore.map { (after - $0) * 1024 / Double(devices) }
                        }
                        samples.idleCPUPercent = try await Self.cpuPercent(
                            of: pid,
                            over: plan.quickFanout ? .milliseconds(500) : .seconds(2)
                        )
                    }
                    if let failure = arrivals.failure { throw failure }
                    for push in 0..<plan.fanoutPushes {
                        progress.show("fanout \(devices): push \(push + 1)/\(plan.fanoutPushes), waiting for every device")
                        try await waitForLongPolls(devices, channel: channel, server: server, arrivals: arrivals)
                        let started = ContinuousClock.now
                        head = try await pushOne(space: space, transport: transport, index: freshRecords(1).lowerBound)
                        let times = try await arrivals.wait(for: head, count: devices, timeout: .seconds(60))
                        let delivered = times.map { ($0 - started).milliseconds }
                        samples.delivered += delivered
                        samples.slowestPerPush.append(delivered.max() ?? .nan)
                    }
                    return samples
                }
            )
        } catch {
            measured = .failure(error)
        }
        try? await client.shutdown()
        return try measured.get()
    }

    /// Pushes one bench record from the device `writer`; answers the new head.
    private func pushOne(space: String, transport: HTTPTransport, index: Int) async throws -> Int64 {
        let request = PushRequest(
            space: space,
            deviceID: "writer",
            sessionID: "s-fanout",
            mutations: BenchRecords.inputs(index..<(index + 1))
        )
        let response = try await transport.push(request)
        guard response.accepted == 1 else { throw BenchError("fanout: the push was not accepted: \(response)") }
        return response.headSeq
    }

    /// Returns once the server holds `count` long-polls (its `ferry_longpoll_waiters` gauge)
    /// or live channels (`ferry_live_connections`); throws when a device failed or after a minute.
    private func waitForLongPolls(_ count: Int, channel: FanoutChannel, server: BenchServer, arrivals: FanoutArrivals) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        var held = 0
        let gauge = channel == .websocket ? "ferry_live_connections" : "ferry_longpoll_waiters"
        while ContinuousClock.now < deadline {
            if let failure = arrivals.failure { throw failure }
            held = try await Self.gauge(gauge, baseURL: server.baseURL)
            if held >= count { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw BenchError("fanout: the server holds \(held) \(channel.rawValue) connections of \(count) after a minute")
    }

    /// The server's gauge `name`, from `GET /metrics`.
    private static func gauge(_ name: String, baseURL: String) async throws -> Int {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: baseURL + "/metrics"), timeout: .seconds(30))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 22))
        let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) } ?? 0
    }

    /// The CPU `pid` uses over `window`, in percent of one core (`/proc/PID/stat`).
    static func cpuPercent(of pid: Int32, over window: Duration) async throws -> Double? {
        guard let before = ProcessCPU.seconds(of: pid) else { return nil }
        let started = ContinuousClock.now
        try await Task.sleep(for: window)
        guard let after = ProcessCPU.seconds(of: pid) else { return nil }
        return (after - before) / (ContinuousClock.now - started).seconds * 100
    }

    /// Records one size's result and its floor.
    private func recordFanout(_ samples: FanoutSamples) {
        let floor = Self.roundTripFloor(
            name: "http_round_trip_fanout_\(samples.channel.rawValue)_\(samples.devices)",
            label: "p50 of an empty pull's round trip (floor), fanout \(samples.channel.rawValue) \(samples.devices)",
            samples.floor
        )
        record(floor)
        let delivered = samples.delivered
        let p50 = BenchStats.quantile(0.5, of: delivered)
        let p99 = BenchStats.quantile(0.99, of: delivered)
        let worst = delivered.max() ?? .nan
        let perPoll = samples.residentPerPollKB ?? .nan
        let idle = samples.idleCPUPercent ?? .nan
        // The latency targets are the at 2,000 devices; memory and idle CPU at every size.
        let memoryMet = !(perPoll >= 64) && !(idle >= 1)
        let target: (String, Bool) =
            samples.devices == 2000
            ? ("p99 < 250 ms, max < 500 ms, < 64 KB per poll, idle CPU < 1%", p99 < 250 && worst < 500 && memoryMet)
            : ("< 64 KB per poll, idle CPU < 1%", memoryMet)
        record(
            BenchResult(
                workload: "fanout",
                store: storeName,
                clients: samples.devices,
                stats: BenchStats(median: p50, min: delivered.min() ?? .nan, max: worst, count: samples.slowestPerPush.count),
                unit: "ms",
                ceiling: floor,
                extra: [
                    ("devices", Double(samples.devices)), ("p50", p50), ("p99", p99), ("max", worst),
                    ("rss_per_poll_kb", perPoll), ("idle_cpu_percent", idle),
                    ("pushes", Double(samples.slowestPerPush.count)),
                    ("slowest_device_p50", BenchStats.quantile(0.5, of: samples.slowestPerPush)),
                ],
                fields: [("channel", .string(samples.channel.rawValue))],
                target: target
            )
        )
    }
}

/// One device's long-poll loop of the fanout workload, over a shared HTTP client.
struct FanoutPoll: Sendable {
    var baseURL: String
    var token: String
    var space: String
    var client: HTTPClient
    var arrivals: FanoutArrivals

    /// Pulls with `wait` from `since` on, recording when each mutation arrives, until cancelled.
    func run(device: String, since: Int64) async throws {
        var since = since
        do {
            while !Task.isCancelled {
                var request = HTTPClientRequest(
                    url: "\(baseURL)/sync/mutations/pull?space=\(space)&since_seq=\(since)&limit=100&exclude_device=\(device)&wait=60"
                )
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
                let response = try await client.execute(request, timeout: .seconds(120))
                let body = try await response.body.collect(upTo: 1 << 24)
                let arrived = ContinuousClock.now
                guard response.status == .ok else {
                    throw BenchError("fanout: device \(device)'s pull got \(response.status.code): \(String(buffer: body))")
                }
                let page = try PullResponse(jsonBytes: body.readableBytesView)
                for mutation in page.mutations { arrivals.record(seq: mutation.seq, at: arrived) }
                since = page.latestSeq
            }
        } catch {
            if !Task.isCancelled { arrivals.fail(error) }
            throw error
        }
    }
}

/// One device's live channel in the fanout workload: the transport's
/// ``FerryHTTP/HTTPTransport/liveChanges(space:since:excludeDevice:limit:)``.
enum FanoutLive {
    /// Holds the channel from `since` on, recording when each mutation arrives, until cancelled.
    static func run(transport: HTTPTransport, space: String, device: String, since: Int64, arrivals: FanoutArrivals) async throws {
        do {
            for try await page in transport.liveChanges(space: space, since: since, excludeDevice: device, limit: 100) {
                let arrived = ContinuousClock.now
                for mutation in page.mutations { arrivals.record(seq: mutation.seq, at: arrived) }
            }
            if !Task.isCancelled { throw BenchError("fanout: device \(device)'s live channel closed") }
        } catch {
            if !Task.isCancelled { arrivals.fail(error) }
            throw error
        }
    }
}

/// When each mutation reached each device, by seq; and the first device failure.
final class FanoutArrivals: Sendable {
    private struct State {
        var times: [Int64: [ContinuousClock.Instant]] = [:]
        var failure: (any Error)?
    }

    private let state = Mutex(State())

    /// Records that one device received `seq` at `instant`.
    func record(seq: Int64, at instant: ContinuousClock.Instant) {
        state.withLock { $0.times[seq, default: []].append(instant) }
    }

    /// Records a device's failure (the first is kept).
    func fail(_ error: any Error) {
        state.withLock { if $0.failure == nil { $0.failure = error } }
    }

    /// The first device failure, if any.
    var failure: (any Error)? { state.withLock(\.failure) }

    /// The arrival times of `seq` once `count` devices have it; throws after `timeout` or on
    /// a device's failure.
    func wait(for seq: Int64, count: Int, timeout: Duration) async throws -> [ContinuousClock.Instant] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (times, failure) = state.withLock { ($0.times[seq] ?? [], $0.failure) }
            if let failure { throw failure }
            if times.count >= count { return times }
            guard ContinuousClock.now < deadline else {
                throw BenchError("fanout: \(times.count) of \(count) devices received seq \(seq) within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(1))
        }
    }
}
