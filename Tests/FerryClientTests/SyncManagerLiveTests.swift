import FerryClient
import FerryCore
import FerryLog
import FerryTestKit
import GRDB
import Testing

/// A device on an in-memory database with a synced `notes` table.
struct MemoryDevice {
    let database: DatabaseQueue
    let store: LocalStore
    let engine: SyncEngine

    init(transport: any SyncTransport) throws {
        database = try DatabaseQueue()
        try database.write { db in try db.execute(sql: "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT)") }
        store = try LocalStore(database)
        try store.register(table: "notes")
        engine = SyncEngine(store: store, transport: transport, space: "notes")
    }

    func titles() throws -> [String] {
        try database.read { db in try String.fetchAll(db, sql: "SELECT title FROM notes ORDER BY id") }
    }
}

/// `SyncManager` in live mode against the in-memory server, whose long-poll is woken by
/// commits as the real server's is; time moves only when the test moves it.
@Suite(.timeLimit(.minutes(1)))
struct SyncManagerLiveTests {
    let clock = TestClock()
    let server: InMemoryTransport
    let writer: MemoryDevice
    let reader: MemoryDevice
    let manager: SyncManager<TestClock>

    init() throws {
        server = InMemoryTransport(configuration: ServerConfiguration(clock: clock))
        writer = try MemoryDevice(transport: server)
        reader = try MemoryDevice(transport: server)
        manager = SyncManager(
            engine: reader.engine,
            schedule: SyncSchedule(pollInterval: .seconds(300), live: true, liveWait: .seconds(30)),
            clock: clock,
            leaseOwner: "reader",
            random: { 0.5 }
        )
    }

    /// Waits until the reader's manager holds a long-poll on the server.
    private func readerIsWaiting() async {
        await clock.waitForSleepers()
    }

    @Test func aWriteOnOneDeviceReachesALiveDeviceWithNoTimePassing() async throws {
        try await whileRunning(manager) {
            try #require(await manager.waitForStatus { $0.lastSyncAt != nil } != nil)
            await readerIsWaiting()
            let pullsBefore = server.callCounts.pull

            try await writer.database.write { db in try db.execute(sql: "INSERT INTO notes VALUES ('n1', 'from the writer')") }
            _ = try await writer.engine.sync()

            // Woken by the commit, not by time: the clock never moves in this test.
            while try reader.titles().isEmpty { await Task.yield() }
            #expect(try reader.titles() == ["from the writer"])
            #expect(clock.now.offset == .zero)
            // The write was answered by the held pull, and the next long-poll followed it.
            #expect(server.callCounts.pull <= pullsBefore + 2)
        }
    }

    @Test func aQuietLogCostsOnePullPerLiveWait() async throws {
        try await whileRunning(manager) {
            try #require(await manager.waitForStatus { $0.lastSyncAt != nil } != nil)
            await readerIsWaiting()
            let pullsBefore = server.callCounts.pull
            for round in 1...3 {
                clock.advance(by: .seconds(30))
                await readerIsWaiting()
                #expect(server.callCounts.pull == pullsBefore + round)
            }
            #expect(server.callCounts.push == 0)
        }
    }
}
