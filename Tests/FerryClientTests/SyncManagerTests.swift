import FerryClient
import FerryCore
import FerryTestKit
import Foundation
import GRDB
import Synchronization
import Testing

/// A wall clock that moves one millisecond each time it is read, so that every successful
/// cycle reports a new `lastSyncAt`.
final class TickingWallClock: Sendable {
    private let milliseconds = Mutex<Int64>(1_700_000_000_000)

    var wallClock: WallClock {
        WallClock {
            self.milliseconds.withLock { value in
                value += 1
                return value
            }
        }
    }
}

/// A device, its server behind a fault-injecting wrapper, a test clock and a manager.
struct ManagedDevice {
    let scratch: Scratch
    let server = InMemoryTransport()
    let transport: FaultInjectingTransport
    let device: Device
    let clock = TestClock()
    let manager: SyncManager<TestClock>

    init(schedule: SyncSchedule = SyncSchedule(), wallClock: WallClock = TickingWallClock().wallClock) throws {
        scratch = try Scratch()
        transport = FaultInjectingTransport(server)
        device = try Device("a", in: scratch, transport: transport)
        manager = SyncManager(
            engine: device.engine,
            schedule: schedule,
            clock: clock,
            wallClock: wallClock,
            leaseOwner: "manager-a",
            random: { 0.5 }
        )
    }

    func insert(_ id: String) throws {
        try device.write("INSERT INTO notes (id, title) VALUES (?, ?)", [id, "note \(id)"])
    }
}

extension SyncManager {
    /// Waits until the status satisfies `condition` and answers it; `nil` if `run()` ended first.
    @discardableResult
    func waitForStatus(_ condition: (SyncStatus) -> Bool) async -> SyncStatus? {
        for await status in statusUpdates() where condition(status) { return status }
        return nil
    }

    /// Waits for the next successful cycle after the status `previous`.
    @discardableResult
    func waitForSuccess(after previous: SyncStatus) async -> SyncStatus? {
        await waitForStatus { $0.phase == .healthy && ($0.lastSyncAt ?? 0) > (previous.lastSyncAt ?? 0) }
    }
}

/// Runs `manager` in a child task while `body` runs, then cancels it and waits for `run()` to
/// return.
func whileRunning<C: Clock, R: Sendable>(
    _ manager: SyncManager<C>,
    _ body: () async throws -> R
) async throws -> R where C.Duration == Duration {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await manager.run() }
        defer { group.cancelAll() }
        return try await body()
    }
}

@Suite(.timeLimit(.minutes(1)))
struct SyncManagerTests {
    @Test func aBurstOfWritesIsPushedOnceAfterTheDebounce() async throws {
        let rig = try ManagedDevice()
        try await whileRunning(rig.manager) {
            let first = try #require(await rig.manager.waitForSuccess(after: SyncStatus()))
            #expect(rig.server.callCounts.push == 0)  // nothing to push yet
            let debounce = SyncSchedule().debounce
            let debounceEnds = rig.clock.now.advanced(by: debounce)
            for index in 1...5 {
                try rig.insert("n\(index)")
                rig.manager.notifyDirty()
            }
            // The manager sleeps until the debounce ends (the first write's, not the last's):
            // 1 ms before it, nothing is due, so nothing can have been pushed.
            await rig.clock.waitForSleeper(until: debounceEnds)
            rig.clock.advance(by: debounce - .milliseconds(1))
            #expect(rig.server.callCounts.push == 0)

            rig.clock.advance(by: .milliseconds(2))
            try #require(await rig.manager.waitForSuccess(after: first) != nil)
            #expect(rig.server.callCounts.push == 1)
            #expect(rig.server.log(of: "notes").map(\.entityKey) == ["n1", "n2", "n3", "n4", "n5"])
            #expect(try await rig.device.store.counts().pending == 0)
        }
    }

    @Test func failuresBackOffOneTwoFourSeconds() async throws {
        let rig = try ManagedDevice(wallClock: WallClock { 1_000_000 })
        try rig.insert("n1")
        rig.transport.failAll(.push, with: SyncTransportError(.transient, "the server is down", status: 503))
        try await whileRunning(rig.manager) {
            let status = try #require(await rig.manager.waitForStatus { $0.consecutiveFailures == 1 })
            #expect(status.phase == .backoff)
            #expect(status.reasonCode == .transient)
            #expect(status.backoffUntil == 1_001_000)
            #expect(rig.transport.count(of: .push) == 1)

            for (failures, seconds) in [(1, 1), (2, 2), (3, 4)] {
                let backoffEnds = rig.clock.now.advanced(by: .seconds(seconds))
                await rig.clock.waitForSleeper(until: backoffEnds)
                rig.clock.advance(by: .seconds(seconds) - .milliseconds(1))
                // Nothing is due: the one sleeper is still the backoff's, so no push can have started.
                #expect(rig.clock.sleeperDeadlines == [backoffEnds], "still asleep just before \(seconds)s")
                #expect(rig.transport.count(of: .push) == failures)

                rig.clock.advance(by: .milliseconds(2))
                let next = try #require(await rig.manager.waitForStatus { $0.consecutiveFailures == failures + 1 })
                #expect(next.phase == .backoff)
                #expect(next.backoffUntil == 1_000_000 + 2_000 * Int64(seconds))
                #expect(rig.transport.count(of: .push) == failures + 1)
            }
        }
    }

    @Test func unauthorizedWithoutRefreshBacksOffWithAuthRequired() async throws {
        let rig = try ManagedDevice()
        try rig.insert("n1")
        rig.transport.failAll(.push, with: SyncTransportError(.authRequired, "the token expired", status: 401))
        try await whileRunning(rig.manager) {
            let status = try #require(await rig.manager.waitForStatus { $0.consecutiveFailures == 1 })
            #expect(status.phase == .backoff)
            #expect(status.reasonCode == .authRequired)
            #expect(status.pending == 1)

            // It keeps trying: a later sign-in may cure it.
            await rig.clock.waitForSleepers(1)
            rig.clock.advance(by: .seconds(1))
            let next = try #require(await rig.manager.waitForStatus { $0.consecutiveFailures == 2 })
            #expect(next.reasonCode == .authRequired)
        }
    }

    @Test func itRecoversWhenTheServerComesBack() async throws {
        let rig = try ManagedDevice()
        try rig.insert("n1")
        try rig.insert("n2")
        rig.transport.failAll(.push, with: SyncTransportError(.transient, "the server is down", status: 503))
        try await whileRunning(rig.manager) {
            _ = try #require(await rig.manager.waitForStatus { $0.consecutiveFailures == 1 })
            await rig.clock.waitForSleepers(1)
            rig.clock.advance(by: .seconds(1))
            let failed = try #require(await rig.manager.waitForStatus { $0.consecutiveFailures == 2 && $0.pending == 2 })
            #expect(failed.phase == .backoff)

            rig.transport.clearFaults()
            await rig.clock.waitForSleepers(1)
            rig.clock.advance(by: .seconds(2))
            let recovered = try #require(await rig.manager.waitForStatus { $0.phase == .healthy && $0.pending == 0 })
            #expect(recovered.consecutiveFailures == 0)
            #expect(recovered.reasonCode == nil)
            #expect(recovered.lastError == nil)
            #expect(recovered.backoffUntil == nil)
            #expect(rig.server.log(of: "notes").count == 2)
        }
    }

    @Test func onlyTheLeaseHolderSyncsAndTheOtherTakesOverWhenItStops() async throws {
        let rig = try ManagedDevice()
        // A second store and manager on the same database, e.g. an app extension.
        let otherStore = try LocalStore(rig.device.database)
        try otherStore.register(table: "notes")
        let otherTransport = FaultInjectingTransport(rig.server)
        let otherClock = TestClock()
        let other = SyncManager(
            engine: SyncEngine(store: otherStore, transport: otherTransport, space: "notes"),
            clock: otherClock,
            wallClock: TickingWallClock().wallClock,
            leaseOwner: "manager-b",
            random: { 0.5 }
        )

        try await withThrowingTaskGroup(of: Void.self) { outer in
            defer { outer.cancelAll() }
            try await withThrowingTaskGroup(of: Void.self) { inner in
                defer { inner.cancelAll() }
                inner.addTask { try await rig.manager.run() }
                try #require(await rig.manager.waitForSuccess(after: SyncStatus()) != nil)
                #expect(try rig.device.store.leaseHolder()?.owner == "manager-a")

                try rig.insert("n1")
                outer.addTask { try await other.run() }
                let denied = try #require(await other.waitForStatus { $0.reasonCode == .leaseHeld })
                #expect(denied.phase == .idle)
                await otherClock.waitForSleepers(1)
                #expect(otherTransport.count(of: .push) == 0)
                #expect(otherTransport.count(of: .pull) == 0)
                #expect(try await rig.device.store.counts().pending == 1)
                #expect(try rig.device.store.leaseHolder()?.owner == "manager-a")
            }
            // The holder's run() has returned and let the lease go.
            #expect(try rig.device.store.leaseHolder() == nil)

            otherClock.advance(by: .seconds(30))
            let synced = try #require(await other.waitForStatus { $0.phase == .healthy && $0.pending == 0 })
            #expect(synced.reasonCode == nil)
            #expect(otherTransport.count(of: .push) == 1)
            #expect(rig.server.log(of: "notes").map(\.entityKey) == ["n1"])
            #expect(try otherStore.leaseHolder()?.owner == "manager-b")
        }
    }

    @Test func aSecondRunReturnsAtOnceAndTheFirstKeepsRunning() async throws {
        let rig = try ManagedDevice()
        try await whileRunning(rig.manager) {
            let first = try #require(await rig.manager.waitForSuccess(after: SyncStatus()))
            try await rig.manager.run()  // returns at once

            rig.manager.syncNow()
            try #require(await rig.manager.waitForSuccess(after: first) != nil)
            #expect(rig.server.callCounts.pull == 2)
        }
    }

    @Test func stopForUpgradeHaltsCyclesButKeepsTheLease() async throws {
        let rig = try ManagedDevice()
        try await whileRunning(rig.manager) {
            let first = try #require(await rig.manager.waitForSuccess(after: SyncStatus()))
            await rig.clock.waitForSleepers(1)

            rig.manager.stopForUpgrade()
            let stopped = rig.manager.status
            #expect(stopped.phase == .disabled)
            #expect(stopped.reasonCode == .upgrade)
            try rig.insert("n1")
            rig.manager.notifyDirty()
            rig.manager.syncNow()
            // Stopped, the manager waits for a signal and sleeps on no clock: its poll sleeper
            // goes away and none takes its place, so moving the clock wakes nothing.
            while rig.clock.sleeperCount > 0 { await Task.yield() }
            rig.clock.advance(by: .seconds(3600))
            #expect(rig.clock.sleeperCount == 0)
            #expect(rig.server.callCounts.push == 0)
            #expect(rig.server.callCounts.pull == 1)
            #expect(rig.manager.status.phase == .disabled)
            #expect(try rig.device.store.leaseHolder()?.owner == "manager-a")

            rig.manager.resumeAfterUpgrade()
            let resumed = try #require(await rig.manager.waitForSuccess(after: first))
            #expect(resumed.reasonCode == nil)
            #expect(rig.server.callCounts.push == 1)
            #expect(rig.server.callCounts.pull == 2, "one cycle after the resume, none while stopped")
            #expect(rig.server.log(of: "notes").map(\.entityKey) == ["n1"])
        }
    }

    @Test func anErrorInACycleDoesNotEndTheLoop() async throws {
        let scratch = try Scratch()
        let server = InMemoryTransport()
        let transport = BrokenOnceTransport(server)
        let device = try Device("a", in: scratch, transport: transport)
        try device.write("INSERT INTO notes (id) VALUES ('n1')")
        let clock = TestClock()
        let manager = SyncManager(
            engine: device.engine,
            clock: clock,
            wallClock: TickingWallClock().wallClock,
            random: { 0.5 }
        )
        try await whileRunning(manager) {
            let failed = try #require(await manager.waitForStatus { $0.consecutiveFailures == 1 })
            #expect(failed.phase == .backoff)
            #expect(failed.reasonCode == .internalError)

            await clock.waitForSleepers(1)
            clock.advance(by: .seconds(1))
            let recovered = try #require(await manager.waitForStatus { $0.phase == .healthy && $0.pending == 0 })
            #expect(recovered.consecutiveFailures == 0)
            #expect(server.log(of: "notes").count == 1)
        }
    }
}

/// A transport whose first push throws an error that is not a ``SyncTransportError``.
final class BrokenOnceTransport: SyncTransport {
    struct Broken: Error {}

    private let base: InMemoryTransport
    private let broken = Mutex(false)

    init(_ base: InMemoryTransport) { self.base = base }

    func push(_ request: PushRequest) async throws -> PushResponse {
        let first = broken.withLock { broken in
            defer { broken = true }
            return !broken
        }
        if first { throw Broken() }
        return try await base.push(request)
    }

    func pull(space: String, since: Int64, limit: Int?, excludeDevice: String?, wait: Duration?) async throws -> PullResponse {
        try await base.pull(space: space, since: since, limit: limit, excludeDevice: excludeDevice, wait: wait)
    }
}
