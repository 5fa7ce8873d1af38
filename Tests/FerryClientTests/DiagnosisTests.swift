import FerryClient
import FerryCore
import FerryTestKit
import Foundation
import GRDB
import Synchronization
import Testing

/// `LocalStore.diagnose` on real SQLite files, and the status the store keeps per space.
@Suite struct DiagnosisTests {
    static func check(_ diagnosis: Diagnosis, _ name: String) -> DiagnosisCheck? {
        diagnosis.checks.first { $0.name == name }
    }

    /// Runs `sql` on the device's file through a connection of its own, as another program
    /// (or a migration that did not refresh the store) would.
    static func outside(_ device: Device, _ sql: String) throws {
        let queue = try DatabaseQueue(path: device.path!)
        try queue.write { db in try db.execute(sql: sql) }
        try queue.close()
    }

    @Test func aHealthyStoreIsAllOK() async throws {
        let scratch = try Scratch()
        let device = try Device("a", in: scratch, transport: InMemoryTransport())
        try device.write("INSERT INTO notes (id, title) VALUES ('a', 'one')")
        try await device.sync()
        let diagnosis = try LocalStore.diagnose(databaseAt: device.path!)
        #expect(diagnosis.status == .ok, "\(diagnosis.checks)")
        #expect(!diagnosis.hasFailures)
        #expect(
            diagnosis.checks.map(\.name) == ["triggers notes", "outbox", "dead letters", "conflicts", "lease", "last sync notes"]
        )
        #expect(Self.check(diagnosis, "triggers notes")?.detail == "4 triggers match the 5 columns")
        #expect(diagnosis.spaces == ["notes"])
        #expect(try device.store.diagnose().status == .ok)
    }

    @Test func aDroppedTriggerFailsWithItsFixAndOpeningTheStoreRebuildsIt() throws {
        let scratch = try Scratch()
        let device = try Device("a", in: scratch, transport: InMemoryTransport())
        try Self.outside(device, "DROP TRIGGER ferry_notes_update")
        let diagnosis = try LocalStore.diagnose(databaseAt: device.path!)
        let check = try #require(Self.check(diagnosis, "triggers notes"))
        #expect(check.status == .fail)
        #expect(check.detail.contains("missing ferry_notes_update"), "\(check.detail)")
        #expect(check.fix?.contains("ferry track --db \(device.path!) notes") == true, "\(check.fix ?? "")")
        #expect(diagnosis.hasFailures)

        // Opening a store refreshes the schema: the trigger is back.
        _ = try LocalStore(try DatabaseQueue(path: device.path!))
        #expect(try LocalStore.diagnose(databaseAt: device.path!).status == .ok)
    }

    @Test func aTriggerThatNoLongerMatchesFails() throws {
        let scratch = try Scratch()
        let device = try Device("a", in: scratch, transport: InMemoryTransport())
        // A trigger of the same name that captures nothing: present, but not Ferry's.
        try Self.outside(
            device,
            "DROP TRIGGER ferry_notes_delete; CREATE TRIGGER ferry_notes_delete AFTER DELETE ON notes BEGIN SELECT 1; END"
        )
        let check = try #require(Self.check(try LocalStore.diagnose(databaseAt: device.path!), "triggers notes"))
        #expect(check.status == .fail)
        #expect(check.detail.contains("ferry_notes_delete differ from what Ferry creates now"), "\(check.detail)")
        #expect(check.fix == "ferry track --db \(device.path!) notes")
    }

    @Test func aColumnAddedWithoutARefreshIsAMismatch() throws {
        let scratch = try Scratch()
        let device = try Device("a", in: scratch, transport: InMemoryTransport())
        // A migration by another program while the store is not open: the triggers still
        // name the old columns, so writes to `priority` are not captured.
        try Self.outside(device, "ALTER TABLE notes ADD COLUMN priority INTEGER NOT NULL DEFAULT 0")
        let check = try #require(Self.check(try LocalStore.diagnose(databaseAt: device.path!), "triggers notes"))
        #expect(check.status == .fail)
        #expect(check.detail.contains("columns changed since the triggers were built (added priority)"), "\(check.detail)")
        #expect(check.detail.contains("capture the old columns"))

        // The store's refresh at open (or before a push) fixes it.
        let reopened = try LocalStore(try DatabaseQueue(path: device.path!))
        #expect(try reopened.diagnose().checks.first { $0.name == "triggers notes" }?.status == .ok)
    }

    @Test func aTableWithoutFerryAndAGoneTableFail() throws {
        let scratch = try Scratch()
        let plain = scratch.path("plain.sqlite")
        try DatabaseQueue(path: plain).write { db in try db.execute(sql: "CREATE TABLE t (id INTEGER PRIMARY KEY)") }
        let none = try LocalStore.diagnose(databaseAt: plain)
        #expect(none.checks.map(\.status) == [.fail])
        #expect(none.checks.first?.fix?.hasPrefix("track a table: ferry track") == true)
        #expect(throws: LocalStoreError.self) { try LocalStore.diagnose(databaseAt: scratch.path("missing.sqlite")) }

        let device = try Device("a", in: scratch, transport: InMemoryTransport())
        try Self.outside(device, "DROP TABLE notes")
        let gone = try #require(Self.check(try LocalStore.diagnose(databaseAt: device.path!), "triggers notes"))
        #expect(gone.status == .fail)
        #expect(gone.detail.contains("is gone"))
    }

    @Test func conflictsAndDeadLettersAreReportedAsWarnings() async throws {
        let scratch = try Scratch()
        let server = InMemoryTransport()
        let a = try Device("a", in: scratch, transport: server)
        // B's table refuses a title A may write: A's record becomes B's dead letter.
        let b = try Device(
            "b",
            in: scratch,
            transport: server,
            extraSchema: """
                CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT CHECK (title IS NOT 'refused'), body TEXT, n INTEGER,
                                    done INTEGER NOT NULL DEFAULT 0)
                """
        )
        try a.write("INSERT INTO notes (id, title) VALUES ('x', 'shared')")
        try await settle([a, b])
        // Both edit x; B pushes on an older base: the server reports the conflict to B.
        try a.write("UPDATE notes SET title = 'from a' WHERE id = 'x'")
        try b.write("UPDATE notes SET title = 'from b' WHERE id = 'x'")
        try await a.sync()
        try await b.sync()
        try a.write("INSERT INTO notes (id, title) VALUES ('y', 'refused')")
        try await a.sync()
        try await b.sync()

        let diagnosis = try LocalStore.diagnose(databaseAt: b.path!)
        let conflicts = try #require(Self.check(diagnosis, "conflicts"))
        #expect(conflicts.status == .warn)
        #expect(conflicts.detail.contains(" open (settled by their policy"), "\(conflicts.detail)")
        #expect(conflicts.fix?.contains("ferry conflicts list --db") == true)
        let letters = try #require(Self.check(diagnosis, "dead letters"))
        #expect(letters.status == .warn)
        #expect(letters.detail.hasPrefix("1 remote changes this database refused"), "\(letters.detail)")
        #expect(letters.fix != nil)
        #expect(!diagnosis.hasFailures)
        #expect(diagnosis.status == .warn)
    }

    @Test func anExpiredLeaseAndAStaleOutboxWarn() async throws {
        let scratch = try Scratch()
        let device = try Device("a", in: scratch, transport: InMemoryTransport())
        #expect(try await device.store.acquireLease(owner: "sync-1", duration: .seconds(30)))
        try device.write("INSERT INTO notes (id, title) VALUES ('a', 'one')")
        let now = WallClock.system.nowMilliseconds()
        let held = try LocalStore.diagnose(databaseAt: device.path!)
        #expect(Self.check(held, "lease")?.status == .ok)
        #expect(Self.check(held, "lease")?.detail.hasPrefix("held by sync-1 until") == true)
        #expect(Self.check(held, "outbox")?.status == .ok)
        #expect(Self.check(held, "outbox")?.detail.hasPrefix("1 pending, oldest") == true)

        // Two days later: the lease ran out and the change still waits.
        let later = WallClock { now + 2 * 86_400_000 }
        let diagnosis = try LocalStore.diagnose(databaseAt: device.path!, clock: later)
        let lease = try #require(Self.check(diagnosis, "lease"))
        #expect(lease.status == .warn)
        #expect(lease.detail.contains("expired"))
        let outbox = try #require(Self.check(diagnosis, "outbox"))
        #expect(outbox.status == .warn)
        #expect(outbox.detail.contains("oldest 48h00m old"), "\(outbox.detail)")
        #expect(outbox.fix?.hasPrefix("sync: ferry sync") == true)
    }

    @Test func theStoreKeepsTheHeadAndTheLastOutcomeOfEachSpace() async throws {
        let scratch = try Scratch()
        let server = InMemoryTransport()
        let writer = try Device("w", in: scratch, transport: server)
        for index in 1...5 { try writer.write("INSERT INTO notes (id, title) VALUES ('n\(index)', 't')") }
        try await writer.sync()

        let faults = FaultInjectingTransport(server)
        let reader = try Device("r", in: scratch, transport: faults, pullLimit: 2)
        #expect(try reader.store.spaceStatuses().isEmpty)
        let progress = PullProgressLog()
        let report = try await reader.engine.sync(pulled: { progress.append($0) })
        #expect(report.pulled == 5)
        let pages = progress.items
        #expect(pages.map(\.seq) == [2, 4, 5])
        #expect(pages.map(\.headSeq) == [5, 5, 5])
        #expect(pages.map(\.isFinished) == [false, false, true])
        #expect(pages.last?.done == 5 && pages.last?.total == 5 && pages.last?.applied == 5)

        var status = try #require(try reader.store.spaceStatuses().first)
        #expect(status.space == "notes" && status.cursor == 5 && status.headSeq == 5 && status.lag == 0)
        #expect(status.outcome?.phase == .healthy && status.outcome?.reason == nil)
        let success = try #require(status.outcome?.lastSuccessAt)

        faults.failAll(.pull, with: SyncTransportError(.authRequired, "the token expired"))
        await #expect(throws: SyncTransportError.self) { try await reader.engine.sync() }
        status = try #require(try reader.store.spaceStatuses().first)
        #expect(status.outcome?.phase == .backoff)
        #expect(status.outcome?.reason == .authRequired)
        #expect(status.outcome?.message?.contains("the token expired") == true)
        #expect(status.outcome?.lastSuccessAt == success)
        let check = try #require(Self.check(try LocalStore.diagnose(databaseAt: reader.path!), "last sync notes"))
        #expect(check.status == .warn)
        #expect(check.fix?.contains("new token") == true)
    }

    @Test func serverAnswersBecomeChecks() {
        let date = "Tue, 01 Dec 2026 18:00:00 GMT"
        let at = Diagnosis.httpDateMilliseconds(date)!
        #expect(RFC3339.format(millisecondsSince1970: at) == "2026-12-01T18:00:00.000Z")
        #expect(Diagnosis.httpDateMilliseconds("yesterday") == nil)

        func checks(status: Int?, code: String? = nil, skew: Int64 = 0, failure: String? = nil) -> [DiagnosisCheck] {
            Diagnosis.serverChecks(
                Diagnosis.ServerObservation(
                    server: "http://127.0.0.1:1",
                    failure: failure,
                    status: status,
                    errorCode: code,
                    dateHeader: date,
                    localMilliseconds: at + skew
                ),
                space: "notes"
            )
        }
        let healthy = checks(status: 200, skew: 900)
        #expect(healthy.map(\.name) == ["server", "token", "clock skew"])
        #expect(healthy.map(\.status) == [.ok, .ok, .ok])
        #expect(healthy[2].detail == "the local clock is 0.4 s ahead of the server's")

        let unauthorized = checks(status: 401, code: "unauthorized")
        #expect(unauthorized[1].status == .fail && unauthorized[1].fix?.contains("ferry token create") == true)
        let forbidden = checks(status: 403, code: "forbidden")
        #expect(forbidden[1].status == .fail && forbidden[1].detail.contains("does not hold the space notes"))
        #expect(checks(status: 410)[1].status == .ok)

        let skewed = checks(status: 200, skew: -9_000)
        #expect(skewed[2].status == .warn)
        #expect(skewed[2].detail.hasPrefix("the local clock is 9.5 s behind the server's"))
        #expect(skewed[2].fix?.contains("NTP") == true)

        let down = checks(status: nil, failure: "connection refused")
        #expect(down.count == 1 && down[0].status == .fail && down[0].detail.contains("connection refused"))
        #expect(Diagnosis(checks: down).hasFailures)
    }
}

/// The pull progress a sync reported.
private final class PullProgressLog: Sendable {
    private let state = Mutex<[PullProgress]>([])
    func append(_ progress: PullProgress) { state.withLock { $0.append(progress) } }
    var items: [PullProgress] { state.withLock { $0 } }
}
