import FerryCore
import Metrics

/// Records ``FerryCore/DeltaSyncEvent``s as swift-metrics counters and timers, per stream:
///
/// | metric | kind | dimensions |
/// | --- | --- | --- |
/// | `ferry_delta_records_total` | counter | `stream`, `kind` (`updated`, `deleted`, `swept`) |
/// | `ferry_delta_batches_total` | counter | `stream`, `kind` (`updated`, `deleted`) |
/// | `ferry_delta_batch_duration` | timer | `stream`, `kind` |
/// | `ferry_delta_runs_total` | counter | `stream`, `result` (`ok` or the error code) |
/// | `ferry_delta_run_duration` | timer | `stream` |
/// | `ferry_delta_full_resyncs_total` | counter | `stream` |
/// | `ferry_delta_waits_total` | counter | `stream`, `reason` (`not_ready`, `rate_limited`) |
///
/// Pass ``record(_:)`` as a ``FerryCore/DeltaSync``'s `onEvent`; ``DeltaSyncManager`` does.
public struct DeltaSyncMetrics: Sendable {
    private let factory: any MetricsFactory

    /// Records into `factory`; by default the process-wide `MetricsSystem`'s.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
    }

    /// Records one event.
    public func record(_ event: DeltaSyncEvent) {
        switch event {
        case .started:
            break
        case .waitingForReady(let stream, _, _):
            counter("ferry_delta_waits_total", stream, ("reason", "not_ready")).increment()
        case .rateLimited(let stream, _, _):
            counter("ferry_delta_waits_total", stream, ("reason", "rate_limited")).increment()
        case .tokensRejected:
            break
        case .updatedBatch(let stream, let count, _, let duration):
            batch(stream, "updated", count, duration)
        case .deletedBatch(let stream, let count, _, let duration):
            batch(stream, "deleted", count, duration)
        case .finished(let result):
            counter("ferry_delta_runs_total", result.stream, ("result", "ok")).increment()
            Metrics.Timer(label: "ferry_delta_run_duration", dimensions: [("stream", result.stream)], factory: factory)
                .record(duration: result.duration)
            if result.fullResync { counter("ferry_delta_full_resyncs_total", result.stream).increment() }
            if result.swept > 0 { counter("ferry_delta_records_total", result.stream, ("kind", "swept")).increment(by: result.swept) }
        case .failed(let stream, let code, _):
            counter("ferry_delta_runs_total", stream, ("result", code.rawValue)).increment()
        }
    }

    private func batch(_ stream: String, _ kind: String, _ count: Int, _ duration: Duration) {
        counter("ferry_delta_batches_total", stream, ("kind", kind)).increment()
        if count > 0 { counter("ferry_delta_records_total", stream, ("kind", kind)).increment(by: count) }
        Metrics.Timer(label: "ferry_delta_batch_duration", dimensions: [("stream", stream), ("kind", kind)], factory: factory)
            .record(duration: duration)
    }

    private func counter(_ label: String, _ stream: String, _ dimension: (String, String)? = nil) -> Metrics.Counter {
        var dimensions = [("stream", stream)]
        if let dimension { dimensions.append(dimension) }
        return Metrics.Counter(label: label, dimensions: dimensions, factory: factory)
    }
}

extension Metrics.Timer {
    /// Records a `Duration`.
    fileprivate func record(duration: Duration) {
        let (seconds, attoseconds) = duration.components
        recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
