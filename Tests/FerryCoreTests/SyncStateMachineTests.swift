import FerryCore
import Testing

/// A point in time for the pure machine: an offset from zero.
struct Tick: InstantProtocol {
    var offset: Duration

    static let zero = Tick(offset: .zero)

    func advanced(by duration: Duration) -> Tick { Tick(offset: offset + duration) }
    func duration(to other: Tick) -> Duration { other.offset - offset }
    static func < (lhs: Tick, rhs: Tick) -> Bool { lhs.offset < rhs.offset }
}

private typealias Machine = SyncStateMachine<Tick>

/// A machine whose first cycle succeeded at `t`.
private func synced(at t: Tick = .zero, schedule: SyncSchedule = SyncSchedule()) -> Machine {
    var machine = Machine(schedule: schedule)
    machine.cycleWillStart(now: t)
    machine.cycleSucceeded(now: t, wallMilliseconds: 1_000)
    return machine
}

/// Fails `count` cycles in a row, each when the previous backoff ends; answers each delay.
private func delays(failures count: Int, jitterUnit: Double, schedule: SyncSchedule = SyncSchedule()) -> [Duration] {
    var machine = synced(schedule: schedule)
    var now = Tick.zero
    var delays: [Duration] = []
    for _ in 0..<count {
        machine.cycleWillStart(now: now)
        let delay = machine.cycleFailed(
            now: now,
            reason: .transient,
            message: "down",
            retryAfter: nil,
            jitterUnit: jitterUnit,
            wallMilliseconds: 0
        )
        delays.append(delay)
        now = now.advanced(by: delay)
    }
    return delays
}

@Suite struct SyncStateMachineTests {
    @Test func theFirstActionIsACycle() {
        let machine = Machine(schedule: SyncSchedule())
        #expect(machine.nextAction(now: .zero) == .runCycle)
        #expect(machine.status.phase == .idle)
        #expect(machine.backoffUntil == nil)
    }

    @Test func aBurstOfWritesMakesOneCycleAtTheFirstDeadline() {
        let t = Tick(offset: .seconds(5))
        var machine = synced(at: t)
        let debounce = machine.schedule.debounce
        machine.notifyDirty(now: t)
        machine.notifyDirty(now: t.advanced(by: debounce / 3))
        machine.notifyDirty(now: t.advanced(by: debounce * 2 / 3))
        let deadline = t.advanced(by: debounce)
        #expect(machine.nextAction(now: t.advanced(by: debounce * 2 / 3)) == .sleep(until: deadline))
        #expect(machine.nextAction(now: deadline.advanced(by: .milliseconds(-1))) == .sleep(until: deadline))
        #expect(machine.nextAction(now: deadline) == .runCycle)

        // Once the cycle starts, later writes need a new debounce.
        machine.cycleWillStart(now: deadline)
        machine.cycleSucceeded(now: deadline, wallMilliseconds: 2_000)
        let later = deadline.advanced(by: .seconds(1))
        machine.notifyDirty(now: later)
        #expect(machine.nextAction(now: later) == .sleep(until: later.advanced(by: debounce)))
    }

    @Test func syncNowSkipsTheDebounce() {
        var machine = synced()
        machine.notifyDirty(now: .zero)
        machine.requestSync()
        #expect(machine.nextAction(now: .zero) == .runCycle)
        machine.cycleWillStart(now: .zero)
        machine.cycleSucceeded(now: .zero, wallMilliseconds: 1_000)
        #expect(machine.nextAction(now: .zero) == .sleep(until: Tick(offset: machine.schedule.pollInterval)))
    }

    @Test func syncNowSkipsTheBackoff() {
        var machine = synced()
        machine.cycleWillStart(now: .zero)
        machine.cycleFailed(now: .zero, reason: .transient, message: "down", retryAfter: nil, jitterUnit: 0.5, wallMilliseconds: 0)
        #expect(machine.nextAction(now: .zero) == .sleep(until: Tick(offset: .seconds(1))))
        machine.requestSync()
        #expect(machine.nextAction(now: .zero) == .runCycle)
    }

    @Test func backoffDoublesFromOneSecondUpToFiveMinutes() {
        let expected: [Duration] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300].map { .seconds($0) }
        #expect(delays(failures: 11, jitterUnit: 0.5) == expected)
    }

    @Test func backoffNeverGivesUp() {
        var machine = synced()
        var now = Tick.zero
        for _ in 0..<50 {
            machine.cycleWillStart(now: now)
            machine.cycleFailed(now: now, reason: .transient, message: "down", retryAfter: nil, jitterUnit: 0.5, wallMilliseconds: 0)
            now = machine.backoffUntil!
        }
        #expect(machine.status.consecutiveFailures == 50)
        #expect(machine.status.phase == .backoff)
        #expect(machine.nextAction(now: now) == .runCycle)
        machine.cycleWillStart(now: now)
        let delay = machine.cycleFailed(
            now: now,
            reason: .transient,
            message: "down",
            retryAfter: nil,
            jitterUnit: 0.5,
            wallMilliseconds: 0
        )
        #expect(delay == .seconds(300))
        #expect(machine.nextAction(now: now) == .sleep(until: now.advanced(by: .seconds(300))))
        #expect(machine.nextAction(now: now.advanced(by: .seconds(300))) == .runCycle)
    }

    @Test(arguments: [(0.0, 0.75), (1.0, 1.25)])
    func jitterMovesTheDelayByAQuarter(unit: Double, factor: Double) {
        let nominal: [Duration] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300].map { .seconds($0) }
        #expect(delays(failures: 11, jitterUnit: unit) == nominal.map { $0 * factor })
    }

    @Test func aLongerRetryAfterWins() {
        var machine = synced()
        machine.cycleWillStart(now: .zero)
        let delay = machine.cycleFailed(
            now: .zero,
            reason: .transient,
            message: "slow down",
            retryAfter: .seconds(10),
            jitterUnit: 0.5,
            wallMilliseconds: 50_000
        )
        #expect(delay == .seconds(10))
        #expect(machine.backoffUntil == Tick(offset: .seconds(10)))
        #expect(machine.status.backoffUntil == 60_000)
        #expect(machine.nextAction(now: Tick(offset: .seconds(9))) == .sleep(until: Tick(offset: .seconds(10))))
    }

    @Test func aShorterRetryAfterLosesToTheBackoff() {
        var machine = synced()
        machine.cycleWillStart(now: .zero)
        let delay = machine.cycleFailed(
            now: .zero,
            reason: .transient,
            message: "slow down",
            retryAfter: .milliseconds(100),
            jitterUnit: 0.5,
            wallMilliseconds: 50_000
        )
        #expect(delay == .seconds(1))
        #expect(machine.status.backoffUntil == 51_000)
    }

    @Test func aFailureReportsItsReason() {
        var machine = synced()
        machine.cycleWillStart(now: .zero)
        machine.cycleFailed(
            now: .zero,
            reason: .authRequired,
            message: "sign in again",
            retryAfter: nil,
            jitterUnit: 0.5,
            wallMilliseconds: 0
        )
        #expect(machine.status.phase == .backoff)
        #expect(machine.status.reasonCode == .authRequired)
        #expect(machine.status.reasonMessage == "sign in again")
        #expect(machine.status.lastError == "sign in again")
        #expect(machine.status.consecutiveFailures == 1)
    }

    @Test func successForgetsTheFailures() {
        var machine = synced()
        var now = Tick.zero
        for _ in 0..<3 {
            machine.cycleWillStart(now: now)
            machine.cycleFailed(now: now, reason: .transient, message: "down", retryAfter: nil, jitterUnit: 0.5, wallMilliseconds: 0)
            now = machine.backoffUntil!
        }
        #expect(machine.status.consecutiveFailures == 3)
        machine.cycleWillStart(now: now)
        #expect(machine.status.phase == .pushing)
        machine.pullWillStart()
        #expect(machine.status.phase == .pulling)
        machine.cycleSucceeded(now: now, wallMilliseconds: 9_000)
        #expect(machine.status.phase == .healthy)
        #expect(machine.status.consecutiveFailures == 0)
        #expect(machine.status.reasonCode == nil)
        #expect(machine.status.lastError == nil)
        #expect(machine.status.backoffUntil == nil)
        #expect(machine.status.lastSyncAt == 9_000)
        #expect(machine.backoffUntil == nil)
        #expect(machine.nextAction(now: now) == .sleep(until: now.advanced(by: .seconds(30))))

        // The next failure starts again from the base delay.
        machine.cycleWillStart(now: now)
        let delay = machine.cycleFailed(
            now: now,
            reason: .transient,
            message: "down",
            retryAfter: nil,
            jitterUnit: 0.5,
            wallMilliseconds: 0
        )
        #expect(delay == .seconds(1))
    }

    @Test func aHeldLeaseWaitsAPollInterval() {
        let t = Tick(offset: .seconds(7))
        var machine = synced()
        machine.requestSync()
        machine.cycleWillStart(now: t)
        machine.leaseDenied(now: t)
        #expect(machine.status.phase == .idle)
        #expect(machine.status.reasonCode == .leaseHeld)
        #expect(machine.status.consecutiveFailures == 0)
        let retry = t.advanced(by: .seconds(30))
        #expect(machine.nextAction(now: t) == .sleep(until: retry))
        // Writes do not shorten the wait for the lease.
        machine.notifyDirty(now: t)
        #expect(machine.nextAction(now: t.advanced(by: .seconds(1))) == .sleep(until: retry))
        #expect(machine.nextAction(now: retry) == .runCycle)
    }

    @Test func stopForUpgradeWaitsForASignalUntilResumed() {
        var machine = synced()
        machine.stopForUpgrade()
        #expect(machine.status.phase == .disabled)
        #expect(machine.status.reasonCode == .upgrade)
        #expect(machine.nextAction(now: .zero) == .waitForSignal)
        machine.notifyDirty(now: .zero)
        machine.requestSync()
        #expect(machine.nextAction(now: Tick(offset: .seconds(3600))) == .waitForSignal)

        machine.resumeAfterUpgrade()
        #expect(machine.status.phase != .disabled)
        #expect(machine.status.reasonCode == nil)
        #expect(machine.nextAction(now: Tick(offset: .seconds(3600))) == .runCycle)
    }

    @Test func resumeWithoutAStopChangesNothing() {
        var machine = synced()
        machine.resumeAfterUpgrade()
        #expect(machine.status.phase == .healthy)
        #expect(machine.nextAction(now: .zero) == .sleep(until: Tick(offset: .seconds(30))))
    }

    @Test func aCycleThatEndsAfterStopForUpgradeLeavesTheMachineDisabled() {
        var succeeded = synced()
        succeeded.cycleWillStart(now: .zero)
        succeeded.stopForUpgrade()
        succeeded.pullWillStart()
        #expect(succeeded.status.phase == .disabled)
        succeeded.cycleSucceeded(now: .zero, wallMilliseconds: 2_000)
        #expect(succeeded.status.phase == .disabled)
        #expect(succeeded.status.reasonCode == .upgrade)
        #expect(succeeded.nextAction(now: .zero) == .waitForSignal)

        var failed = synced()
        failed.cycleWillStart(now: .zero)
        failed.stopForUpgrade()
        failed.cycleFailed(now: .zero, reason: .transient, message: "down", retryAfter: nil, jitterUnit: 0.5, wallMilliseconds: 0)
        #expect(failed.status.phase == .disabled)
        #expect(failed.status.reasonCode == .upgrade)
        #expect(failed.nextAction(now: Tick(offset: .seconds(5))) == .waitForSignal)

        var denied = synced()
        denied.cycleWillStart(now: .zero)
        denied.stopForUpgrade()
        denied.leaseDenied(now: .zero)
        #expect(denied.status.phase == .disabled)
        #expect(denied.status.reasonCode == .upgrade)
        #expect(denied.nextAction(now: Tick(offset: .seconds(60))) == .waitForSignal)
    }

    @Test func liveModeHoldsALongPollWhenIdle() {
        let machine = synced(schedule: SyncSchedule(live: true))
        #expect(machine.nextAction(now: .zero) == .longPoll)
        var dirty = machine
        dirty.notifyDirty(now: .zero)
        #expect(dirty.nextAction(now: .zero) == .sleep(until: Tick(offset: machine.schedule.debounce)))
    }

    @Test func anInterruptedLongPollIsNeitherSuccessNorFailure() {
        var machine = synced(schedule: SyncSchedule(live: true))
        machine.cycleWillStart(now: .zero)
        machine.pullWillStart()
        machine.cycleInterrupted(now: Tick(offset: .seconds(2)))
        #expect(machine.status.phase == .idle)
        #expect(machine.status.consecutiveFailures == 0)
        #expect(machine.nextAction(now: Tick(offset: .seconds(2))) == .longPoll)
    }

    @Test func anIdleManagerPollsEveryPollInterval() {
        let schedule = SyncSchedule(pollInterval: .seconds(10))
        let t = Tick(offset: .seconds(3))
        let machine = synced(at: t, schedule: schedule)
        #expect(machine.status.phase == .healthy)
        #expect(machine.nextAction(now: t) == .sleep(until: Tick(offset: .seconds(13))))
        #expect(machine.nextAction(now: Tick(offset: .seconds(12))) == .sleep(until: Tick(offset: .seconds(13))))
        #expect(machine.nextAction(now: Tick(offset: .seconds(13))) == .runCycle)
    }
}

/// The bootstrapping phase and its progress in the status.
@Suite struct SyncStateMachineBootstrapTests {
    @Test func aBootstrapShowsItsProgressAndEndsInPulling() {
        var machine = SyncStateMachine<Tick>(schedule: SyncSchedule())
        machine.cycleWillStart(now: .zero)
        machine.pullWillStart()
        machine.bootstrapProgressed(recordsDone: 10, recordsTotal: 40)
        #expect(machine.status.phase == .bootstrapping)
        #expect(machine.status.bootstrapRecordsDone == 10)
        #expect(machine.status.bootstrapRecordsTotal == 40)
        machine.bootstrapEnded()
        #expect(machine.status.phase == .pulling)
        #expect(machine.status.bootstrapRecordsDone == nil)
        #expect(machine.status.bootstrapRecordsTotal == nil)
    }

    @Test func aBootstrapCutShortOrFailedClearsItsProgress() {
        var machine = SyncStateMachine<Tick>(schedule: SyncSchedule())
        machine.cycleWillStart(now: .zero)
        machine.bootstrapProgressed(recordsDone: 1, recordsTotal: 2)
        machine.cycleInterrupted(now: .zero)
        #expect(machine.status.phase == .idle)
        #expect(machine.status.bootstrapRecordsTotal == nil)
        machine.cycleWillStart(now: .zero)
        machine.bootstrapProgressed(recordsDone: 1, recordsTotal: 2)
        machine.cycleFailed(now: .zero, reason: .transient, message: "x", retryAfter: nil, jitterUnit: 0, wallMilliseconds: 0)
        #expect(machine.status.phase == .backoff)
        #expect(machine.status.bootstrapRecordsDone == nil)
    }
}
