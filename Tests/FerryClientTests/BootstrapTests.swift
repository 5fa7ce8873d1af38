import FerryClient
import FerryCore
import FerryTestKit
import GRDB
import Synchronization
import Testing

/// Bootstrapping from snapshots: a new device, a corrupted chunk, an interrupted bootstrap,
/// a pruned history with pending local changes.
@Suite struct BootstrapTests {
    /// Writes a history of inserts, updates and deletes on `writer` and pushes it: 40 notes
    /// inserted, every third updated twice, every fifth deleted, one deleted and inserted again.
    static func writeHistory(on writer: Device) async throws {
        for index in 0..<40 {
            try writer.write("INSERT INTO notes (id, title, body, n) VALUES (?, ?, ?, ?)", ["n\(index)", "title \(index)", "body", index])
        }
        for index in stride(from: 0, to: 40, by: 3) {
            try writer.write("UPDATE notes SET title = ? WHERE id = ?", ["changed \(index)", "n\(index)"])
            try writer.write("UPDATE notes SET body = NULL, done = 1 WHERE id = ?", ["n\(index)"])
        }
        for index in stride(from: 0, to: 40, by: 5) {
            try writer.write("DELETE FROM notes WHERE id = ?", ["n\(index)"])
        }
        try writer.write("INSERT INTO notes (id, title) VALUES ('n5', 'back again')")
        try await writer.sync()
    }

    /// The shadow of `device`: record → (fields, seq).
    static func shadow(of device: Device) throws -> [String: (JSONValue?, Int64)] {
        try device.database.read { db in
            var shadow: [String: (JSONValue?, Int64)] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT entity, entity_key, row, seq FROM ferry_shadow WHERE row IS NOT NULL") {
                let text: String = row[2]
                shadow["\(row[0] as String)/\(row[1] as String)"] = (try JSONValue(parsing: text), row[3])
            }
            return shadow
        }
    }

    static func sameShadow(_ a: Device, _ b: Device) throws -> Bool {
        let left = try shadow(of: a)
        let right = try shadow(of: b)
        return left.count == right.count && left.allSatisfy { key, value in right[key].map { $0.0 == value.0 && $0.1 == value.1 } ?? false }
    }

    static func engine(_ device: Device, transport: any SyncTransport, threshold: Int64 = 5, concurrency: Int = 4) -> SyncEngine {
        var engine = SyncEngine(store: device.store, transport: transport, space: "notes", bootstrapThreshold: threshold)
        engine.chunkConcurrency = concurrency
        return engine
    }

    @Test func aNewDeviceBootstrapsAndHoldsWhatAReplayingDeviceHolds() async throws {
        let server = SnapshotStubTransport()
        let writer = try Device("writer", transport: server)
        try await Self.writeHistory(on: writer)
        let manifest = try await server.publishSnapshot(recordsPerChunk: 7)
        try writer.write("UPDATE notes SET title = 'after the snapshot' WHERE id = 'n1'")
        try await writer.sync()

        let fresh = try Device("fresh", transport: server)
        let progress = ProgressLog()
        let report = try await Self.engine(fresh, transport: server).sync(progress: progress.record)
        #expect(report.bootstraps == 1)
        #expect(report.bootstrapRecords == manifest.records)
        #expect(report.pulled == 1)  // only the change after the snapshot comes from the log
        #expect(server.chunkCalls == manifest.chunks.count)
        #expect(try await fresh.store.cursor(space: "notes").lastSeq == manifest.snapshotSeq + 1)
        #expect(try await fresh.store.bootstrapState(space: "notes") == nil)
        let last = try #require(progress.reports.last)
        #expect(last.isFinished && last.recordsDone == manifest.records && last.chunksDone == manifest.chunks.count)
        #expect(progress.reports.first?.recordsDone == 0)

        let replaying = try Device("replaying", transport: server)
        try await replaying.sync()
        #expect(try fresh.rows() == replaying.rows())
        #expect(try fresh.rows() == writer.rows())
        #expect(try Self.sameShadow(fresh, replaying))
        #expect(try await fresh.store.counts().pending == 0)

        // Written on the bootstrapped device, a change carries the snapshot's seq as its base.
        try fresh.write("UPDATE notes SET title = 'from fresh' WHERE id = 'n2'")
        #expect(try fresh.outbox().last?.op == "patch")
        try await settle([writer, fresh, replaying])
        #expect(try writer.rows() == fresh.rows())
        #expect(try writer.rows() == replaying.rows())
    }

    @Test func aSnapshotNotFarEnoughAheadIsNotUsed() async throws {
        let server = SnapshotStubTransport()
        let writer = try Device("writer", transport: server)
        try await Self.writeHistory(on: writer)
        try await server.publishSnapshot(recordsPerChunk: 7)
        let device = try Device("device", transport: server)
        let report = try await Self.engine(device, transport: server, threshold: 10_000).sync()
        #expect(report.bootstraps == 0)
        #expect(server.chunkCalls == 0)
        #expect(try device.rows() == writer.rows())
    }

    @Test func aManifestThatCannotBeReadLeavesANewDevicePullingTheLog() async throws {
        let server = SnapshotStubTransport()
        let writer = try Device("writer", transport: server)
        try await Self.writeHistory(on: writer)
        try await server.publishSnapshot(recordsPerChunk: 7)
        let faulty = FaultInjectingTransport(server)
        faulty.inject(.fail(SyncTransportError(.transient, "HTTP 500", status: 500)), on: .manifest)
        let device = try Device("device", transport: faulty)
        let report = try await Self.engine(device, transport: faulty).sync()
        #expect(report.bootstraps == 0)
        #expect(faulty.count(of: .manifest) == 1)
        #expect(faulty.count(of: .chunk) == 0)
        #expect(try device.rows() == writer.rows())
    }

    @Test func aCorruptedChunkIsRefusedAndFetchedAgain() async throws {
        let server = SnapshotStubTransport()
        let writer = try Device("writer", transport: server)
        try await Self.writeHistory(on: writer)
        let manifest = try await server.publishSnapshot(recordsPerChunk: 10)
        let faulty = FaultInjectingTransport(server)
        faulty.corruptChunks(times: 1)
        let device = try Device("device", transport: faulty)
        let report = try await Self.engine(device, transport: faulty, concurrency: 1).sync()
        #expect(report.bootstraps == 1)
        let requested = faulty.chunkIDsRequested
        #expect(requested.count == manifest.chunks.count + 1)
        #expect(requested[0] == requested[1])
        #expect(try device.rows() == writer.rows())
    }

    @Test func aChunkThatKeepsFailingItsChecksumIsNeverApplied() async throws {
        let server = SnapshotStubTransport()
        let writer = try Device("writer", transport: server)
        try await Self.writeHistory(on: writer)
        let manifest = try await server.publishSnapshot(recordsPerChunk: 10)
        let faulty = FaultInjectingTransport(server)
        faulty.corruptChunks(times: 3)
        let device = try Device("device", transport: faulty)
        var engine = Self.engine(device, transport: faulty, concurrency: 1)
        engine.chunkAttempts = 3
        await #expect {
            _ = try await engine.sync()
        } throws: { error in
            (error as? SyncTransportError)?.kind == .transient
        }
        #expect(faulty.chunkIDsRequested == Array(repeating: manifest.chunks[0].id, count: 3))
        let state = try #require(try await device.store.bootstrapState(space: "notes"))
        #expect(state.appliedChunkIDs.isEmpty)
        #expect(try Self.shadow(of: device).isEmpty)
        #expect(try device.rows().isEmpty)

        // The next sync resumes and ends right.
        let report = try await engine.sync()
        #expect(report.bootstraps == 1)
        #expect(try device.rows() == writer.rows())
    }

    @Test func anInterruptedBootstrapResumesWithoutDownloadingAppliedChunksAgain() async throws {
        let server = SnapshotStubTransport()
        let writer = try Device("writer", transport: server)
        try await Self.writeHistory(on: writer)
        let manifest = try await server.publishSnapshot(recordsPerChunk: 5)
        #expect(manifest.chunks.count >= 5)
        let scratch = try Scratch()
        do {
            let device = try Device("device", in: scratch, transport: server)
            server.failChunks(after: 3)
            await #expect(throws: SyncTransportError.self) {
                _ = try await Self.engine(device, transport: server, concurrency: 1).sync()
            }
            let state = try #require(try await device.store.bootstrapState(space: "notes"))
            #expect(state.appliedChunkIDs.count == 3)
            #expect(try device.rows().count == 15)
        }
        server.failChunks(after: nil)
        let callsBefore = server.chunkCalls
        // The process starts again on the same database.
        let device = try Device("device", in: scratch, transport: server)
        let report = try await Self.engine(device, transport: server, concurrency: 2).sync()
        #expect(report.bootstraps == 1)
        #expect(report.bootstrapRecords == manifest.records - 15)
        #expect(server.chunkCalls - callsBefore == manifest.chunks.count - 3)

        let replaying = try Device("replaying", transport: server)
        try await replaying.sync()
        #expect(try device.rows() == replaying.rows())
        #expect(try Self.sameShadow(device, replaying))
    }

    @Test func aResumedBootstrapWhoseSnapshotChangedStartsAgain() async throws {
        let server = SnapshotStubTransport()
        let writer = try Device("writer", transport: server)
        try await Self.writeHistory(on: writer)
        try await server.publishSnapshot(recordsPerChunk: 5)
        let device = try Device("device", transport: server)
        let engine = Self.engine(device, transport: server, concurrency: 1)
        server.failChunks(after: 2)
        await #expect(throws: SyncTransportError.self) { _ = try await engine.sync() }
        server.failChunks(after: nil)

        try writer.write("DELETE FROM notes WHERE id = 'n1'")
        try writer.write("INSERT INTO notes (id, title) VALUES ('new', 'after')")
        try await writer.sync()
        let second = try await server.publishSnapshot(recordsPerChunk: 5)
        let report = try await engine.sync()
        #expect(report.bootstraps == 1)
        #expect(report.bootstrapRecords == second.records)
        #expect(try await device.store.cursor(space: "notes").lastSeq == second.snapshotSeq)
        #expect(try device.rows() == writer.rows())
    }

    @Test func aPrunedHistoryBootstrapsAndKeepsPendingLocalChanges() async throws {
        let server = SnapshotStubTransport()
        let writer = try Device("writer", transport: server)
        let device = try Device("device", transport: server)
        try writer.write("INSERT INTO notes (id, title, body) VALUES ('shared', 'one', 'b'), ('doomed', 'x', 'y')")
        try await writer.sync()
        try await device.sync()
        #expect(try device.rows().count == 2)

        // Offline: the device edits; meanwhile the writer writes much, deletes `doomed`, and
        // the server prunes everything a snapshot covers.
        try device.write("UPDATE notes SET title = 'mine' WHERE id = 'shared'")
        try device.write("INSERT INTO notes (id, title) VALUES ('local', 'only here')")
        try writer.write("UPDATE notes SET body = 'theirs' WHERE id = 'shared'")
        try writer.write("DELETE FROM notes WHERE id = 'doomed'")
        for index in 0..<20 { try writer.write("INSERT INTO notes (id, title) VALUES (?, 't')", ["w\(index)"]) }
        try await writer.sync()
        let manifest = try await server.publishSnapshot(recordsPerChunk: 6)
        server.prune(floor: manifest.snapshotSeq)

        // Pull only: the pending changes stay pending through the bootstrap.
        var report = SyncEngine.Report()
        try await Self.engine(device, transport: server, threshold: 1_000_000).pull(wait: nil, into: &report)
        #expect(report.bootstraps == 1)
        #expect(try await device.store.counts().pending == 2)
        let rows = try device.rows()
        #expect(rows.first { $0["id"] == "\"doomed\"" } == nil)
        #expect(rows.first { $0["id"] == "\"shared\"" }?["title"] == "\"mine\"")
        #expect(rows.first { $0["id"] == "\"shared\"" }?["body"] == "\"theirs\"")
        #expect(rows.first { $0["id"] == "\"local\"" }?["title"] == "\"only here\"")
        #expect(rows.count == 22)

        try await settle([device, writer])
        #expect(try device.rows() == writer.rows())
        #expect(try writer.rows().first { $0["id"] == "\"shared\"" }?["title"] == "\"mine\"")
    }

    /// A device below the pruned floor bootstraps in place: while the snapshot is not whole
    /// (a chunk download fails), it keeps its rows and its cursor; the end brings the new
    /// versions and removes the records the snapshot no longer has.
    @Test func anInterruptedBootstrapBelowTheFloorKeepsTheRowsAndTheCursor() async throws {
        let server = SnapshotStubTransport()
        let writer = try Device("writer", transport: server)
        let device = try Device("device", transport: server)
        try writer.write("INSERT INTO notes (id, title) VALUES ('kept', 'one'), ('doomed', 'x')")
        try await writer.sync()
        try await device.sync()
        let before = try device.rows()
        let cursorBefore = try await device.store.cursor(space: "notes")
        #expect(before.count == 2)

        try writer.write("UPDATE notes SET title = 'two' WHERE id = 'kept'")
        try writer.write("DELETE FROM notes WHERE id = 'doomed'")
        for index in 0..<12 { try writer.write("INSERT INTO notes (id, title) VALUES (?, 't')", ["w\(index)"]) }
        try await writer.sync()
        let manifest = try await server.publishSnapshot(recordsPerChunk: 4)
        server.prune(floor: manifest.snapshotSeq)

        let faulty = FaultInjectingTransport(server)
        faulty.inject(.loseAnswer, on: .chunk)
        await #expect(throws: SyncTransportError.self) {
            var report = SyncEngine.Report()
            try await Self.engine(device, transport: faulty, concurrency: 1).pull(wait: nil, into: &report)
        }
        #expect(try await device.store.bootstrapState(space: "notes") != nil)
        #expect(try await device.store.cursor(space: "notes").lastSeq == cursorBefore.lastSeq)
        let during = try device.rows()
        #expect(during.contains { $0["id"] == "\"doomed\"" })
        #expect(during.contains { $0["id"] == "\"kept\"" })

        var report = SyncEngine.Report()
        try await Self.engine(device, transport: faulty, concurrency: 1).pull(wait: nil, into: &report)
        #expect(report.bootstraps == 1)
        #expect(try await device.store.cursor(space: "notes").lastSeq == manifest.snapshotSeq)
        #expect(try device.rows() == writer.rows())
        #expect(try device.rows().first { $0["id"] == "\"kept\"" }?["title"] == "\"two\"")
    }

    @Test func aPrunedHistoryWithoutSnapshotFailsTransient() async throws {
        let server = SnapshotStubTransport()
        let writer = try Device("writer", transport: server)
        try writer.write("INSERT INTO notes (id, title) VALUES ('a', 'b')")
        try await writer.sync()
        server.prune(floor: 1)
        let device = try Device("device", transport: server)
        await #expect {
            _ = try await device.sync()
        } throws: { error in
            (error as? SyncTransportError)?.kind == .transient
        }
    }
}

/// The progress reports of a bootstrap, in order.
final class ProgressLog: Sendable {
    private let log = Mutex<[BootstrapProgress]>([])

    var reports: [BootstrapProgress] { log.withLock { $0 } }

    func record(_ progress: BootstrapProgress) {
        log.withLock { $0.append(progress) }
    }
}

/// The sync manager's status during a bootstrap.
@Suite(.timeLimit(.minutes(1))) struct BootstrapStatusTests {
    @Test func theStatusShowsTheBootstrapWithItsRecords() async throws {
        let server = SnapshotStubTransport()
        let writer = try Device("writer", transport: server)
        try await BootstrapTests.writeHistory(on: writer)
        let manifest = try await server.publishSnapshot(recordsPerChunk: 10)
        let device = try Device("device", transport: server)
        let manager = SyncManager(
            engine: BootstrapTests.engine(device, transport: server, concurrency: 1),
            clock: TestClock(),
            leaseOwner: "manager",
            random: { 0.5 }
        )
        let updates = manager.statusUpdates()
        let seen = try await whileRunning(manager) {
            var seen: [SyncStatus] = []
            for await status in updates {
                seen.append(status)
                if status.phase == .healthy { break }
            }
            return seen
        }
        let bootstrapping = seen.filter { $0.phase == .bootstrapping }
        #expect(bootstrapping.first?.bootstrapRecordsDone == 0)
        #expect(bootstrapping.last?.bootstrapRecordsDone == manifest.records)
        #expect(bootstrapping.allSatisfy { $0.bootstrapRecordsTotal == manifest.records })
        #expect(bootstrapping.count == manifest.chunks.count + 1)
        let after = try #require(seen.last)
        #expect(after.bootstrapRecordsDone == nil && after.bootstrapRecordsTotal == nil)
        #expect(try device.rows() == writer.rows())
    }
}
