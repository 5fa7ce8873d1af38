import FerryCore
import Foundation
import GRDB
import Logging
import ServiceLifecycle
import Synchronization

/// Keeps a local store in sync in the background: a swift-service-lifecycle `Service`.
///
/// It pushes and pulls in cycles: after local writes (debounced), on ``syncNow()``, every
/// poll interval when idle, and, in live mode, through a long-poll pull that brings other
/// devices' changes within milliseconds.
///
/// It notices local writes by itself while ``run()`` runs: a commit through the store's
/// `DatabaseWriter` that captured changes of tracked tables into the outbox starts a cycle
/// after the debounce (GRDB's transaction observation; no polling). Commits by other
/// processes that open the same file are noticed too when the schedule's
/// ``FerryCore/SyncSchedule/externalWriteCheck`` is set. ``notifyDirty()`` stays as a hint
/// for anything else. A bootstrap from a snapshot
/// shows as phase ``FerryCore/SyncPhase/bootstrapping`` with its records done and total. Failures back off
/// exponentially with jitter and never stop it for good; an error inside a cycle never ends
/// ``run()``. Only the process that holds the database's lease syncs; the manager renews it
/// each cycle and releases it when it stops.
///
/// The decisions live in ``SyncStateMachine``; this type only carries them out. It is
/// generic over its clock so that tests drive time.
public final class SyncManager<C: Clock>: Service, Sendable where C.Duration == Duration {
    private struct State {
        var machine: SyncStateMachine<C.Instant>
        var running = false
        var status = SyncStatus()
        var subscribers: [UUID: AsyncStream<SyncStatus>.Continuation] = [:]
        /// The highest outbox entry id a cycle has been asked for.
        var noticedEntry: Int64 = 0
    }

    /// The engine the cycles run.
    public let engine: SyncEngine
    /// The lease owner's name: unique per manager.
    public let leaseOwner: String
    private let clock: C
    private let wallClock: WallClock
    private let random: @Sendable () -> Double
    private let logger: Logger
    private let state: Mutex<State>
    private let wakeUp = WakeUpCall()

    /// Creates a manager.
    /// - Parameters:
    ///   - schedule: When cycles run and how failures back off.
    ///   - clock: Measures debounces, polls and backoffs.
    ///   - wallClock: Timestamps the status and the lease.
    ///   - random: Numbers in 0...1 that pick the backoff jitter.
    ///   - logger: Where the manager logs; by default nowhere.
    public init(
        engine: SyncEngine,
        schedule: SyncSchedule = SyncSchedule(),
        clock: C,
        wallClock: WallClock = .system,
        leaseOwner: String = "ferry-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))",
        random: @escaping @Sendable () -> Double = { Double.random(in: 0...1) },
        logger: Logger = Logger(label: "ferry.sync-manager", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.engine = engine
        self.clock = clock
        self.wallClock = wallClock
        self.leaseOwner = leaseOwner
        self.random = random
        self.logger = logger
        self.state = Mutex(State(machine: SyncStateMachine(schedule: schedule)))
    }

    /// The current status.
    public var status: SyncStatus { state.withLock { $0.status } }

    /// The status now and after every change, until the manager's `run()` ends or the
    /// consumer stops listening.
    public func statusUpdates() -> AsyncStream<SyncStatus> {
        let (stream, continuation) = AsyncStream.makeStream(of: SyncStatus.self, bufferingPolicy: .bufferingNewest(16))
        let id = UUID()
        let current = state.withLock { state in
            state.subscribers[id] = continuation
            return state.status
        }
        continuation.yield(current)
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Tells the manager that synced tables changed: a cycle starts after the debounce.
    ///
    /// A hint, never needed for writes the manager notices by itself: commits through the
    /// store's `DatabaseWriter` while ``run()`` runs, and, with
    /// ``FerryCore/SyncSchedule/externalWriteCheck``, other processes' commits to the same
    /// file. Calling it anyway costs nothing more than the cycle it asks for.
    public func notifyDirty() {
        update { $0.notifyDirty(now: clock.now) }
        wakeUp.ring()
    }

    /// Asks for a cycle now, skipping the debounce and any backoff.
    public func syncNow() {
        update { $0.requestSync() }
        wakeUp.ring()
    }

    /// Stops cycles (phase `disabled`) without giving up the lease, so that no other process
    /// takes over during an upgrade.
    public func stopForUpgrade() {
        update { $0.stopForUpgrade() }
        wakeUp.ring()
    }

    /// Resumes cycles after ``stopForUpgrade()``.
    public func resumeAfterUpgrade() {
        update { $0.resumeAfterUpgrade() }
        wakeUp.ring()
    }

    /// Runs cycles until the task is cancelled or a graceful shutdown; then releases the
    /// lease. A second `run()` while one runs returns at once.
    public func run() async throws {
        let claimed = state.withLock { state -> Bool in
            if state.running { return false }
            state.running = true
            return true
        }
        guard claimed else {
            logger.warning("run() called while the manager already runs; returning")
            return
        }
        defer {
            let subscribers = state.withLock { state in
                state.running = false
                return Array(state.subscribers.values)
            }
            for subscriber in subscribers { subscriber.finish() }
        }
        refreshCounts()
        let observer = OutboxWriteObserver { [self] entry in noticeOutbox(upTo: entry) }
        engine.store.writer.add(transactionObserver: observer, extent: .observerLifetime)
        rememberNoticedEntries()
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                if let watcher = self.externalWriteWatcher() {
                    group.addTask { await watcher.run() }
                }
                await self.loop()
                group.cancelAll()
            }
        }
        engine.store.writer.remove(transactionObserver: observer)
        releaseLease()
    }

    /// Starts a cycle after the debounce when `entry` is newer than every outbox entry
    /// noticed before: the same commit seen by the observer and by the watcher asks once.
    private func noticeOutbox(upTo entry: Int64) {
        let isNew = state.withLock { state -> Bool in
            guard entry > state.noticedEntry else { return false }
            state.noticedEntry = entry
            return true
        }
        if isNew { notifyDirty() }
    }

    /// Notes the outbox's entries at start: the first cycle pushes them, so they ask for
    /// nothing more.
    private func rememberNoticedEntries() {
        do {
            let highest = try engine.store.writer.read { db in
                try Int64.fetchOne(db, sql: "SELECT max(client_action_id) FROM ferry_outbox") ?? 0
            }
            state.withLock { $0.noticedEntry = max($0.noticedEntry, highest) }
        } catch {
            logger.debug("could not read the outbox's last entry", metadata: ["ferry.error": "\(error)"])
        }
    }

    /// The watcher of other processes' commits, when the schedule asks for one and the
    /// database is a file.
    private func externalWriteWatcher() -> ExternalWriteWatcher<C>? {
        guard let interval = state.withLock({ $0.machine.schedule.externalWriteCheck }) else { return nil }
        guard let path = ExternalWriteWatcher<C>.watchablePath(of: engine.store.writer) else {
            logger.debug("the database is in memory: no other process can write it, nothing to watch")
            return nil
        }
        return ExternalWriteWatcher(path: path, interval: interval, clock: clock, logger: logger) { [self] entry in
            noticeOutbox(upTo: entry)
        }
    }

    /// Gives up the lease. When run() ends because its task was cancelled, GRDB's async
    /// write refuses to start (it throws CancellationError); its synchronous write does not
    /// look at cancellation.
    private func releaseLease() {
        do {
            try engine.store.releaseLease(owner: leaseOwner)
        } catch {
            logger.warning(
                "could not release the sync lease; it expires on its own",
                metadata: ["ferry.lease_owner": "\(leaseOwner)", "ferry.error": "\(error)"]
            )
        }
    }

    private func loop() async {
        while !Task.isCancelled {
            let action = state.withLock { $0.machine.nextAction(now: clock.now) }
            switch action {
            case .runCycle:
                await runCycle(wait: nil)
            case .longPoll:
                await wakeUp.race { await self.runCycle(wait: self.state.withLock { $0.machine.schedule.liveWait }) }
            case .sleep(let deadline):
                await wakeUp.race { try? await self.clock.sleep(until: deadline, tolerance: nil) }
            case .waitForSignal:
                await wakeUp.wait()
            }
        }
    }

    private func runCycle(wait: Duration?) async {
        update { $0.cycleWillStart(now: clock.now) }
        do {
            let leaseDuration = state.withLock { $0.machine.schedule.leaseDuration }
            guard try await engine.store.acquireLease(owner: leaseOwner, duration: leaseDuration) else {
                update { $0.leaseDenied(now: clock.now) }
                return
            }
            var report = SyncEngine.Report()
            try await engine.push(into: &report)
            update { $0.pullWillStart() }
            try await engine.pull(wait: wait, into: &report) { progress in
                self.update { machine in
                    if progress.isFinished {
                        machine.bootstrapEnded()
                    } else {
                        machine.bootstrapProgressed(recordsDone: progress.recordsDone, recordsTotal: progress.recordsTotal)
                    }
                }
            }
            engine.recordOutcome(of: nil)
            let wall = wallClock.nowMilliseconds()
            update { $0.cycleSucceeded(now: clock.now, wallMilliseconds: wall) }
        } catch {
            if Task.isCancelled {
                // Cut short by a wake-up call or a shutdown: not a failure.
                update { $0.cycleInterrupted(now: clock.now) }
            } else {
                let failure = CycleFailure(error)
                engine.recordOutcome(of: error)
                // The status carries the failure (reason, message, backoff): a line per cycle is for debugging.
                logger.debug(
                    "sync cycle failed",
                    metadata: ["ferry.space": "\(engine.space)", "ferry.reason": "\(failure.reason)", "ferry.error": "\(failure.message)"]
                )
                let wall = wallClock.nowMilliseconds()
                let unit = random()
                update {
                    $0.cycleFailed(
                        now: clock.now,
                        reason: failure.reason,
                        message: failure.message,
                        retryAfter: failure.retryAfter,
                        jitterUnit: unit,
                        wallMilliseconds: wall
                    )
                }
            }
        }
        refreshCounts()
    }

    /// Reads the store's counts into the status. Synchronous, so that it also runs after a
    /// cycle cut short by cancellation; a failed read keeps the last counts.
    private func refreshCounts() {
        let counts: LocalStore.Counts
        do {
            counts = try engine.store.counts()
        } catch {
            logger.debug("could not read the store's counts; the status keeps the last ones", metadata: ["ferry.error": "\(error)"])
            return
        }
        publish { status in
            status.pending = counts.pending
            status.rejected = counts.rejected
            status.deadLetters = counts.deadLetters
            status.conflicts = counts.conflicts
        }
    }

    /// Changes the machine and publishes the status it implies.
    private func update(_ change: (inout SyncStateMachine<C.Instant>) -> Void) {
        publish({ _ in }, machine: change)
    }

    private func publish(
        _ counts: (inout SyncStatus) -> Void,
        machine change: (inout SyncStateMachine<C.Instant>) -> Void = { _ in }
    ) {
        let (status, subscribers) = state.withLock { state in
            change(&state.machine)
            var status = state.machine.status
            status.pending = state.status.pending
            status.rejected = state.status.rejected
            status.deadLetters = state.status.deadLetters
            status.conflicts = state.status.conflicts
            counts(&status)
            let changed = status != state.status
            state.status = status
            return (status, changed ? Array(state.subscribers.values) : [])
        }
        for subscriber in subscribers { subscriber.yield(status) }
    }
}
