import FerryClient
import FerryCore
import FerryLog
import FerryTestKit
import GRDB
import Testing

/// The manager notices writes by itself: the app's commits through the store's own writer
/// (no `notifyDirty()`), and, with `externalWriteCheck`, other connections' commits to the
/// same file. Time moves only when the test moves it.
@Suite(.timeLimit(.minutes(1)))
struct SyncManagerNoticingTests {
    let debounce = SyncSchedule().debounce

    @Test func aPlainWriteStartsACycleAfterTheDebounceAndThePulledChangeStartsNoPush() async throws {
        let clock = TestClock()
        let server = InMemoryTransport(configuration: ServerConfiguration(clock: clock))
        let writer = try MemoryDevice(transport: server)
        let reader = try MemoryDevice(transport: server)
        let writerManager = SyncManager(
            engine: writer.engine,
            schedule: SyncSchedule(pollInterval: .seconds(300)),
            clock: clock,
            leaseOwner: "writer",
            random: { 0.5 }
        )
        let readerManager = SyncManager(
            engine: reader.engine,
            schedule: SyncSchedule(pollInterval: .seconds(300), live: true, liveWait: .seconds(30)),
            clock: clock,
            leaseOwner: "reader",
            random: { 0.5 }
        )
        try await whileRunning(readerManager) {
            try await whileRunning(writerManager) {
                try #require(await writerManager.waitForStatus { $0.lastSyncAt != nil } != nil)
                try #require(await readerManager.waitForStatus { $0.lastSyncAt != nil } != nil)
                // Both idle: the writer until its poll, the reader in its long-poll.
                await clock.waitForSleeper(until: clock.now.advanced(by: .seconds(300)))
                await clock.waitForSleeper(until: clock.now.advanced(by: .seconds(30)))
                #expect(server.callCounts.push == 0)

                // The app's own write, and nothing else: no notifyDirty().
                try await writer.database.write { db in try db.execute(sql: "INSERT INTO notes VALUES ('n1', 'written')") }
                let debounceEnds = clock.now.advanced(by: debounce)
                await clock.waitForSleeper(until: debounceEnds)
                clock.advance(by: debounce - .milliseconds(1))
                #expect(server.callCounts.push == 0, "nothing is pushed before the debounce ends")

                clock.advance(by: .milliseconds(1))
                // The writer pushes; the reader's held pull brings the row.
                while try reader.titles().isEmpty { await Task.yield() }
                #expect(try reader.titles() == ["written"])
                #expect(server.callCounts.push == 1)
                #expect(server.log(of: "notes").map(\.entityKey) == ["n1"])

                // The pulled row put nothing in the reader's outbox, so it asks for no push
                // cycle: it holds its long-poll again (a debounce would sleep instead).
                let readerPolls = clock.now.advanced(by: .seconds(30))
                await clock.waitForSleeper(until: readerPolls)
                let outboxEntries = try await reader.database.read { db in
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM ferry_outbox") ?? -1
                }
                #expect(outboxEntries == 0)
                #expect(!clock.sleeperDeadlines.contains(clock.now.advanced(by: debounce)))
                #expect(server.callCounts.push == 1)
            }
        }
    }

    @Test func anotherConnectionsWriteIsNoticedByTheExternalWriteCheck() async throws {
        let rig = try ManagedDevice(schedule: SyncSchedule(externalWriteCheck: .milliseconds(25)))
        let path = try #require(rig.device.path)
        // Another program's connection to the same file: the manager's writer sees none of
        // its commits.
        let otherProgram = try DatabaseQueue(path: path)
        try await whileRunning(rig.manager) {
            try #require(await rig.manager.waitForSuccess(after: SyncStatus()) != nil)
            let start = rig.clock.now
            await rig.clock.waitForSleeper(until: start.advanced(by: .seconds(30)))
            await rig.clock.waitForSleeper(until: start.advanced(by: .milliseconds(25)))
            #expect(rig.server.callCounts.push == 0)

            try await otherProgram.write { db in try db.execute(sql: "INSERT INTO notes (id, title) VALUES ('x1', 'from elsewhere')") }
            // The next check (25 ms on) sees the commit, and the cycle follows the debounce.
            rig.clock.advance(by: .milliseconds(25))
            let debounceEnds = start.advanced(by: .milliseconds(25) + debounce)
            await rig.clock.waitForSleeper(until: debounceEnds)
            rig.clock.advance(by: debounce - .milliseconds(1))
            #expect(rig.server.callCounts.push == 0)

            rig.clock.advance(by: .milliseconds(1))
            try #require(await rig.manager.waitForStatus { $0.pending == 0 && rig.server.callCounts.push == 1 } != nil)
            #expect(rig.server.log(of: "notes").map(\.entityKey) == ["x1"])
        }
        try otherProgram.close()
    }

    @Test func withoutTheExternalWriteCheckAnotherConnectionsWriteWaitsForThePoll() async throws {
        let rig = try ManagedDevice()
        let otherProgram = try DatabaseQueue(path: try #require(rig.device.path))
        try await whileRunning(rig.manager) {
            try #require(await rig.manager.waitForSuccess(after: SyncStatus()) != nil)
            let poll = rig.clock.now.advanced(by: .seconds(30))
            await rig.clock.waitForSleeper(until: poll)
            try await otherProgram.write { db in try db.execute(sql: "INSERT INTO notes (id, title) VALUES ('x1', 'from elsewhere')") }
            // One sleeper, the poll's: nothing watches the file.
            rig.clock.advance(by: .seconds(1))
            #expect(rig.clock.sleeperDeadlines == [poll])
            #expect(rig.server.callCounts.push == 0)
        }
        try otherProgram.close()
    }
}
