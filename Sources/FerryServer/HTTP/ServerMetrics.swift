import FerryLog
import Hummingbird
import Metrics
import Prometheus
import Synchronization

/// The server's metrics, recorded through swift-metrics into one Prometheus registry and
/// exposed by `GET /metrics`.
///
/// The metrics are made with an explicit factory rather than the process-wide
/// `MetricsSystem`, so that several servers in one process (as in tests) keep apart.
public final class ServerMetrics: Sendable {
    /// The registry `GET /metrics` renders.
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let accepted: Metrics.Counter
    private let duplicates: Metrics.Counter
    private let rejected: Metrics.Counter
    private let conflicts: Metrics.Counter
    private let waiters: Metrics.Meter
    private let liveConnections: Metrics.Meter
    private let streamsOpen: Metrics.Meter
    private let eventsStreamed: Metrics.Counter
    private let acksStored: Metrics.Counter
    private let chunksServed: Metrics.Counter
    private let chunkBytesServed: Metrics.Counter
    private let snapshotsBuilt: Metrics.Counter
    private let mutationsPruned: Metrics.Counter
    private let spaces: Metrics.Gauge
    private let logMutations: Metrics.Gauge
    /// The per-space gauges, by space: of at most ``labelledSpaces`` spaces.
    private let spaceGauges = Mutex<[String: SpaceGauges]>([:])

    /// The gauges of one space.
    private struct SpaceGauges {
        var mutations: Metrics.Gauge
        var floor: Metrics.Gauge
        var snapshot: Metrics.Gauge

        func record(_ size: SpaceLogSize) {
            mutations.record(size.mutations)
            floor.record(size.floorSeq)
            snapshot.record(size.snapshotSeq)
        }

        func destroy() {
            mutations.destroy()
            floor.destroy()
            snapshot.destroy()
        }
    }

    /// The most spaces that get gauges of their own (`ferry_log_mutations{space}` and its
    /// siblings): the largest logs. A label per space of a server holding 100,000 of them
    /// would make 300,000 series, which neither the server's memory nor a Prometheus wants.
    public let labelledSpaces: Int

    /// Creates the metrics in `registry`; at most `labelledSpaces` spaces (default 100, the
    /// largest logs) get gauges of their own.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), labelledSpaces: Int = 100) {
        self.registry = registry
        self.labelledSpaces = max(0, labelledSpaces)
        self.factory = PrometheusMetricsFactory(registry: registry)
        self.accepted = Metrics.Counter(label: "ferry_mutations_accepted_total", factory: factory)
        self.duplicates = Metrics.Counter(label: "ferry_mutations_duplicate_total", factory: factory)
        self.rejected = Metrics.Counter(label: "ferry_mutations_rejected_total", factory: factory)
        self.conflicts = Metrics.Counter(label: "ferry_conflicts_reported_total", factory: factory)
        self.waiters = Metrics.Meter(label: "ferry_longpoll_waiters", factory: factory)
        self.streamsOpen = Metrics.Meter(label: "ferry_streams_open", factory: factory)
        self.liveConnections = Metrics.Meter(label: "ferry_live_connections", factory: factory)
        self.eventsStreamed = Metrics.Counter(label: "ferry_stream_events_total", factory: factory)
        self.acksStored = Metrics.Counter(label: "ferry_stream_acks_stored_total", factory: factory)
        self.chunksServed = Metrics.Counter(label: "ferry_snapshot_chunks_served_total", factory: factory)
        self.chunkBytesServed = Metrics.Counter(label: "ferry_snapshot_chunk_bytes_served_total", factory: factory)
        self.snapshotsBuilt = Metrics.Counter(label: "ferry_snapshots_built_total", factory: factory)
        self.mutationsPruned = Metrics.Counter(label: "ferry_mutations_pruned_total", factory: factory)
        self.spaces = Metrics.Gauge(label: "ferry_spaces", factory: factory)
        self.logMutations = Metrics.Gauge(label: "ferry_log_mutations_all_spaces", factory: factory)
    }

    /// Records a snapshot chunk served.
    func recordChunkServed(bytes: Int) {
        chunksServed.increment()
        chunkBytesServed.increment(by: bytes)
    }

    /// Records a snapshot published by the background builder.
    public func recordSnapshotBuilt() { snapshotsBuilt.increment() }

    /// Records mutations deleted by retention.
    public func recordPruned(_ count: Int64) {
        if count > 0 { mutationsPruned.increment(by: Int(count)) }
    }

    /// Sets the gauges of the log sizes the background round read: `complete` when `sizes`
    /// holds every space (then `ferry_spaces` and `ferry_log_mutations_all_spaces` are set,
    /// and the ``labelledSpaces`` largest logs are the ones labelled from now on), else those
    /// of the spaces it looked at (the labelled ones among them are updated, and a new one
    /// is labelled while there is room).
    public func recordLogSizes(_ sizes: [SpaceLogSize], complete: Bool) {
        if complete {
            spaces.record(sizes.count)
            logMutations.record(sizes.reduce(Int64(0)) { $0 + $1.mutations })
        }
        let (kept, dropped) = spaceGauges.withLock { made -> ([(SpaceLogSize, SpaceGauges)], [SpaceGauges]) in
            var dropped: [SpaceGauges] = []
            var labelled = sizes
            if complete {
                labelled = Array(sizes.sorted { ($0.mutations, $1.space) > ($1.mutations, $0.space) }.prefix(labelledSpaces))
                let names = Set(labelled.map(\.space))
                for (space, gauges) in made where !names.contains(space) {
                    dropped.append(gauges)
                    made[space] = nil
                }
            }
            var kept: [(SpaceLogSize, SpaceGauges)] = []
            for size in labelled {
                if let existing = made[size.space] {
                    kept.append((size, existing))
                } else if made.count < labelledSpaces {
                    let dimensions = [("space", size.space)]
                    let gauges = SpaceGauges(
                        mutations: Metrics.Gauge(label: "ferry_log_mutations", dimensions: dimensions, factory: factory),
                        floor: Metrics.Gauge(label: "ferry_log_floor_seq", dimensions: dimensions, factory: factory),
                        snapshot: Metrics.Gauge(label: "ferry_snapshot_seq", dimensions: dimensions, factory: factory)
                    )
                    made[size.space] = gauges
                    kept.append((size, gauges))
                }
            }
            return (kept, dropped)
        }
        for gauges in dropped { gauges.destroy() }
        for (size, gauges) in kept { gauges.record(size) }
    }

    /// How many spaces have gauges of their own (for tests).
    var labelledSpaceCount: Int { spaceGauges.withLock { $0.count } }

    private struct Route: Hashable {
        var method: String
        var path: String
    }

    /// The request counters and timers made so far, by route (and status): made once each,
    /// as Hummingbird's `MetricsMiddleware` does, not once per request.
    private let requestMetrics = Mutex<(counters: [Route: [Int: Metrics.Counter]], timers: [Route: Metrics.Timer])>(([:], [:]))

    /// Records one answered request.
    func recordRequest(method: String, route: String, status: Int, duration: Duration) {
        let key = Route(method: method, path: route)
        let (counter, timer) = requestMetrics.withLock { made in
            let counter =
                made.counters[key]?[status]
                ?? Metrics.Counter(
                    label: "ferry_http_requests_total",
                    dimensions: [("method", method), ("route", route), ("status", String(status))],
                    factory: factory
                )
            made.counters[key, default: [:]][status] = counter
            let timer =
                made.timers[key]
                ?? Metrics.Timer(
                    label: "ferry_http_request_duration_seconds",
                    dimensions: [("method", method), ("route", route)],
                    factory: factory
                )
            made.timers[key] = timer
            return (counter, timer)
        }
        counter.increment()
        timer.record(duration: duration)
    }

    /// Records the outcome of one push.
    func recordPush(accepted: Int, duplicates: Int, rejected: Int, conflicts: Int) {
        if accepted > 0 { self.accepted.increment(by: accepted) }
        if duplicates > 0 { self.duplicates.increment(by: duplicates) }
        if rejected > 0 { self.rejected.increment(by: rejected) }
        if conflicts > 0 { self.conflicts.increment(by: conflicts) }
    }

    /// Records an event stream starting to send its body.
    func streamOpened() { streamsOpen.increment() }

    /// Records an event stream ending, completed or cut.
    func streamClosed() { streamsOpen.decrement() }

    /// Records live channels opening (a positive delta) or closing (a negative one):
    /// `ferry_live_connections`.
    func liveChanged(by delta: Int) {
        if delta > 0 { liveConnections.increment(by: Double(delta)) } else { liveConnections.decrement(by: Double(-delta)) }
    }

    /// Records events written to a stream's body.
    func recordStreamed(events: Int) {
        if events > 0 { eventsStreamed.increment(by: events) }
    }

    /// Records the acks of one stored ack request.
    func recordAcks(_ count: Int) {
        if count > 0 { acksStored.increment(by: count) }
    }

    /// Records long-poll waiters starting (a positive delta) or stopping (a negative one);
    /// hand it to ``CommitWatcher/init(clock:onWaitersChanged:)``.
    @Sendable public func waitersChanged(by delta: Int) {
        if delta > 0 { waiters.increment(by: Double(delta)) } else { waiters.decrement(by: Double(-delta)) }
    }

    /// The counters of failed authentication made so far, by reason.
    private let authFailures = Mutex<[String: Metrics.Counter]>([:])

    /// Records a request refused for its credentials: `ferry_auth_failures_total{reason}`,
    /// where reason is `missing`, `malformed`, `invalid` (an unknown, expired or revoked
    /// access token), `forbidden` (a space outside the token's scope) or `refresh_invalid`
    /// (an unknown, spent or revoked refresh token).
    func recordAuthFailure(reason: String) {
        let counter = authFailures.withLock { made in
            if let counter = made[reason] { return counter }
            let counter = Metrics.Counter(label: "ferry_auth_failures_total", dimensions: [("reason", reason)], factory: factory)
            made[reason] = counter
            return counter
        }
        counter.increment()
    }

    /// The counters of refused long-polls made so far, by limit.
    private let longPollsRefused = Mutex<[String: Metrics.Counter]>([:])

    /// Records a long-poll answered `429` because a limit was reached:
    /// `ferry_longpoll_refused_total{limit}`, where limit is `per_token` or `total`.
    func recordLongPollRefused(limit: String) {
        let counter = longPollsRefused.withLock { made in
            if let counter = made[limit] { return counter }
            let counter = Metrics.Counter(label: "ferry_longpoll_refused_total", dimensions: [("limit", limit)], factory: factory)
            made[limit] = counter
            return counter
        }
        counter.increment()
    }

    /// The registry in Prometheus text format.
    func render() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
