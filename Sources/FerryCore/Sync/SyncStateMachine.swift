/// The decisions of a sync manager, without any I/O: when to run a cycle, how long to back
/// off, what to do when the lease is held elsewhere, what to report.
///
/// A driver asks ``nextAction(now:)``, carries the action out, and reports what happened
/// (``cycleSucceeded(now:)``, ``cycleFailed(now:reason:message:retryAfter:jitterUnit:)``,
/// ``leaseDenied(now:)``). Time comes in as arguments, so tests drive it without sleeping.
package struct SyncStateMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// What the driver should do next.
    package enum Action: Sendable, Equatable {
        /// Take the lease and run a cycle (push the outbox, pull until done) now.
        case runCycle
        /// Live mode and nothing else to do: hold a long-poll pull open, and stop it when
        /// signalled.
        case longPoll
        /// Sleep until this instant, or until signalled.
        case sleep(until: Instant)
        /// Sleep until signalled (stopped for an upgrade).
        case waitForSignal
    }

    /// The schedule the decisions follow.
    package let schedule: SyncSchedule
    /// The status as far as the decisions know it (counts are the driver's to fill in).
    package private(set) var status = SyncStatus()
    /// When the current backoff ends.
    package private(set) var backoffUntil: Instant?

    private var dirtyDeadline: Instant?
    private var syncRequested = false
    private var lastCycleEnd: Instant?
    private var leaseRetryAt: Instant?
    private var disabled = false

    /// Creates the machine; its first action is a cycle.
    package init(schedule: SyncSchedule) {
        self.schedule = schedule
    }

    /// A local write happened: a cycle starts after the debounce. Later writes before that
    /// cycle starts join it rather than pushing the deadline back.
    package mutating func notifyDirty(now: Instant) {
        if dirtyDeadline == nil { dirtyDeadline = now.advanced(by: schedule.debounce) }
    }

    /// The app asked for a cycle now; it skips the debounce and any backoff.
    package mutating func requestSync() {
        syncRequested = true
    }

    /// Stops cycles until ``resumeAfterUpgrade()``; the driver keeps its lease.
    package mutating func stopForUpgrade() {
        disabled = true
        reportDisabled()
    }

    /// While stopped for an upgrade, the status says so, whatever a cycle that was already
    /// running reports when it ends.
    private mutating func reportDisabled() {
        guard disabled else { return }
        status.phase = .disabled
        status.reasonCode = .upgrade
        status.reasonMessage = "stopped for an upgrade"
    }

    /// Undoes ``stopForUpgrade()`` and asks for a cycle.
    package mutating func resumeAfterUpgrade() {
        guard disabled else { return }
        disabled = false
        status.phase = .idle
        status.reasonCode = nil
        status.reasonMessage = nil
        syncRequested = true
    }

    /// What to do at `now`.
    package func nextAction(now: Instant) -> Action {
        if disabled { return .waitForSignal }
        if syncRequested { return .runCycle }
        if let leaseRetryAt, now < leaseRetryAt { return .sleep(until: leaseRetryAt) }
        if let backoffUntil { return now < backoffUntil ? .sleep(until: backoffUntil) : .runCycle }
        guard let lastCycleEnd else { return .runCycle }
        if let dirtyDeadline {
            return now < dirtyDeadline ? .sleep(until: dirtyDeadline) : .runCycle
        }
        if schedule.live { return .longPoll }
        let nextPoll = lastCycleEnd.advanced(by: schedule.pollInterval)
        return now < nextPoll ? .sleep(until: nextPoll) : .runCycle
    }

    /// A cycle starts: writes from now on need another cycle.
    package mutating func cycleWillStart(now: Instant) {
        dirtyDeadline = nil
        syncRequested = false
        status.phase = .pushing
        clearBootstrap()
        reportDisabled()
    }

    /// The cycle moved from pushing to pulling.
    package mutating func pullWillStart() {
        status.phase = .pulling
        reportDisabled()
    }

    /// The cycle's pull is bootstrapping from a snapshot: `recordsDone` of `recordsTotal`.
    package mutating func bootstrapProgressed(recordsDone: Int, recordsTotal: Int) {
        status.phase = .bootstrapping
        status.bootstrapRecordsDone = recordsDone
        status.bootstrapRecordsTotal = recordsTotal
        reportDisabled()
    }

    /// The bootstrap ended; the cycle pulls on from the snapshot.
    package mutating func bootstrapEnded() {
        status.phase = .pulling
        clearBootstrap()
        reportDisabled()
    }

    private mutating func clearBootstrap() {
        status.bootstrapRecordsDone = nil
        status.bootstrapRecordsTotal = nil
    }

    /// The cycle was cut short (a signal ended a long-poll, or the manager is stopping):
    /// neither a success nor a failure.
    package mutating func cycleInterrupted(now: Instant) {
        lastCycleEnd = now
        if status.phase == .pushing || status.phase == .pulling || status.phase == .bootstrapping { status.phase = .idle }
        clearBootstrap()
        reportDisabled()
    }

    /// Another process holds the lease: try again after a poll interval.
    package mutating func leaseDenied(now: Instant) {
        leaseRetryAt = now.advanced(by: schedule.pollInterval)
        lastCycleEnd = now
        status.phase = .idle
        status.reasonCode = .leaseHeld
        status.reasonMessage = "another process syncs this database"
        reportDisabled()
    }

    /// The cycle succeeded at `now` (wall time `wallMilliseconds`): failures are forgotten.
    package mutating func cycleSucceeded(now: Instant, wallMilliseconds: Int64) {
        lastCycleEnd = now
        leaseRetryAt = nil
        backoffUntil = nil
        status.phase = .healthy
        clearBootstrap()
        status.reasonCode = nil
        status.reasonMessage = nil
        status.lastError = nil
        status.consecutiveFailures = 0
        status.backoffUntil = nil
        status.lastSyncAt = wallMilliseconds
        reportDisabled()
    }

    /// The cycle failed: back off by the policy, or longer when the server asked for it.
    /// - Parameters:
    ///   - reason: The reason code for the status.
    ///   - jitterUnit: A random number in 0...1 that picks the jitter.
    ///   - wallMilliseconds: Wall time now, to report `backoffUntil` in.
    /// - Returns: The delay chosen.
    @discardableResult
    package mutating func cycleFailed(
        now: Instant,
        reason: SyncReasonCode,
        message: String,
        retryAfter: Duration?,
        jitterUnit: Double,
        wallMilliseconds: Int64
    ) -> Duration {
        status.consecutiveFailures += 1
        var delay = schedule.backoff.delay(afterFailures: status.consecutiveFailures, unit: jitterUnit)
        if let retryAfter, retryAfter > delay { delay = retryAfter }
        backoffUntil = now.advanced(by: delay)
        lastCycleEnd = now
        leaseRetryAt = nil
        status.phase = .backoff
        clearBootstrap()
        status.reasonCode = reason
        status.reasonMessage = message
        status.lastError = message
        let (seconds, attoseconds) = delay.components
        status.backoffUntil = wallMilliseconds + seconds * 1000 + attoseconds / 1_000_000_000_000_000
        reportDisabled()
        return delay
    }
}
