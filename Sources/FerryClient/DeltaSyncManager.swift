import FerryCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Runs a ``FerryCore/DeltaSync`` on a schedule in the background: a swift-service-lifecycle
/// `Service`.
///
/// It syncs at once, then every `schedule.pollInterval`, and on ``syncNow()``. A failed run
/// backs off exactly as ``SyncManager`` does (the same ``SyncStateMachine`` and
/// ``FerryCore/BackoffPolicy``), waiting longer when the source asked for it
/// (``FerryCore/DeltaSyncError/retryAfter``); a failure never ends ``run()``. Every run's
/// outcome is published through ``outcomes()``, its events go to the metrics
/// (``DeltaSyncMetrics``) and to `onEvent`.
public final class DeltaSyncManager<C: Clock>: Service, Sendable where C.Duration == Duration {
    /// A run's outcome.
    public typealias Outcome = Result<DeltaSyncResult, DeltaSyncError>

    private struct State {
        var machine: SyncStateMachine<C.Instant>
        var running = false
        var lastOutcome: Outcome?
        var subscribers: [UUID: AsyncStream<Outcome>.Continuation] = [:]
    }

    /// The sync each run performs.
    public let sync: DeltaSync<C>
    private let clock: C
    private let wallClock: WallClock
    private let random: @Sendable () -> Double
    private let logger: Logger
    private let state: Mutex<State>
    private let wakeUp = WakeUpCall()

    /// Creates a manager of the sync of `source` into `sink`.
    /// - Parameters:
    ///   - configuration: How each run waits and retries within itself.
    ///   - schedule: `pollInterval` is the time between runs (default 5 minutes here);
    ///     `backoff` the waits after failed runs. Debounce, live mode and lease are not used.
    ///   - clock: Times the schedule, the backoff and the waits inside runs.
    ///   - wallClock: Timestamps the status.
    ///   - random: Numbers in 0...1 that pick the jitter.
    ///   - metrics: Where the runs' events are counted; `nil` for nowhere.
    ///   - onEvent: Also called with every event of every run.
    public init(
        source: any DeltaSource,
        sink: any DeltaSink,
        configuration: DeltaSyncConfiguration = DeltaSyncConfiguration(),
        schedule: SyncSchedule = SyncSchedule(pollInterval: .seconds(300)),
        clock: C,
        wallClock: WallClock = .system,
        random: @escaping @Sendable () -> Double = { Double.random(in: 0...1) },
        metrics: DeltaSyncMetrics? = DeltaSyncMetrics(),
        logger: Logger = Logger(label: "ferry.delta-sync", factory: { _ in SwiftLogNoOpLogHandler() }),
        onEvent: @escaping @Sendable (DeltaSyncEvent) -> Void = { _ in }
    ) {
        self.sync = DeltaSync(
            source: source,
            sink: sink,
            configuration: configuration,
            clock: clock,
            random: random,
            onEvent: { event in
                metrics?.record(event)
                onEvent(event)
            }
        )
        self.clock = clock
        self.wallClock = wallClock
        self.random = random
        self.logger = logger
        var schedule = schedule
        schedule.live = false
        self.state = Mutex(State(machine: SyncStateMachine(schedule: schedule)))
    }

    /// The status: phase (`pulling` during a run, `healthy` after a good one, `backoff`
    /// after a failure), the failure's reason and message, the backoff's end, the last sync.
    public var status: SyncStatus { state.withLock { $0.machine.status } }

    /// The last run's outcome, `nil` before the first ends.
    public var lastOutcome: Outcome? { state.withLock { $0.lastOutcome } }

    /// Every run's outcome from now on, until ``run()`` ends or the consumer stops listening.
    public func outcomes() -> AsyncStream<Outcome> {
        let (stream, continuation) = AsyncStream.makeStream(of: Outcome.self, bufferingPolicy: .bufferingNewest(16))
        let id = UUID()
        state.withLock { $0.subscribers[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Asks for a run now, skipping the wait and any backoff.
    public func syncNow() {
        state.withLock { $0.machine.requestSync() }
        wakeUp.ring()
    }

    /// Runs syncs until the task is cancelled or a graceful shutdown. A second `run()` while
    /// one runs returns at once.
    public func run() async throws {
        let claimed = state.withLock { state -> Bool in
            if state.running { return false }
            state.running = true
            return true
        }
        guard claimed else {
            logger.warning("run() called while the delta sync manager already runs; returning")
            return
        }
        defer {
            let subscribers = state.withLock { state in
                state.running = false
                return Array(state.subscribers.values)
            }
            for subscriber in subscribers { subscriber.finish() }
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                switch self.state.withLock({ $0.machine.nextAction(now: self.clock.now) }) {
                case .runCycle, .longPoll:
                    await self.runOnce()
                case .sleep(let deadline):
                    await self.wakeUp.race { try? await self.clock.sleep(until: deadline, tolerance: nil) }
                case .waitForSignal:
                    await self.wakeUp.wait()
                }
            }
        }
    }

    private func runOnce() async {
        state.withLock { state in
            state.machine.cycleWillStart(now: clock.now)
            state.machine.pullWillStart()
        }
        let outcome: Outcome
        do {
            outcome = .success(try await sync.run())
        } catch let error as DeltaSyncError {
            outcome = .failure(error)
        } catch {
            // Cancelled: a shutdown, not a failure.
            state.withLock { $0.machine.cycleInterrupted(now: clock.now) }
            return
        }
        let wall = wallClock.nowMilliseconds()
        let unit = random()
        let subscribers = state.withLock { state in
            switch outcome {
            case .success:
                state.machine.cycleSucceeded(now: clock.now, wallMilliseconds: wall)
            case .failure(let error):
                state.machine.cycleFailed(
                    now: clock.now,
                    reason: error.code == .unauthorized ? .authRequired : .transient,
                    message: error.description,
                    retryAfter: error.retryAfter,
                    jitterUnit: unit,
                    wallMilliseconds: wall
                )
            }
            state.lastOutcome = outcome
            return Array(state.subscribers.values)
        }
        if case .failure(let error) = outcome {
            logger.debug("delta sync failed", metadata: ["ferry.stream": "\(error.stream)", "ferry.error": "\(error.message)"])
        }
        for subscriber in subscribers { subscriber.yield(outcome) }
    }
}
