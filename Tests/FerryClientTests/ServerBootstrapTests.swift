import FerryClient
import FerryCore
import FerryLog
import FerryTestKit
import GRDB
import Testing

/// Bootstrap and bulk push against the server's own snapshots, retention and bulk endpoint
/// (``InMemoryTransport``), not a stub.
@Suite struct ServerBootstrapTests {
    static let policy = SnapshotPolicy(every: nil, chunkRecords: 6)

    @Test func aNewDeviceBootstrapsFromTheServersSnapshotAndMatchesAReplayingDevice() async throws {
        let server = InMemoryTransport()
        let writer = try Device("writer", transport: server)
        try await BootstrapTests.writeHistory(on: writer)
        let manifest = try #require(try await server.buildSnapshot(of: "notes", policy: Self.policy))
        #expect(manifest.chunks.count >= 3)
        try writer.write("INSERT INTO notes (id, title) VALUES ('late', 'after the snapshot')")
        try await writer.sync()

        let faulty = FaultInjectingTransport(server)
        faulty.corruptChunks(times: 1)
        let fresh = try Device("fresh", transport: faulty)
        let report = try await BootstrapTests.engine(fresh, transport: faulty).sync()
        #expect(report.bootstraps == 1)
        #expect(report.bootstrapRecords == manifest.records)
        #expect(faulty.count(of: .chunk) == manifest.chunks.count + 1)
        #expect(try await fresh.store.cursor(space: "notes").lastSeq == manifest.snapshotSeq + 1)

        let replaying = try Device("replaying", transport: server)
        try await replaying.sync()
        #expect(try fresh.rows() == replaying.rows())
        #expect(try BootstrapTests.sameShadow(fresh, replaying))
    }

    /// Cut short after its last chunk was applied but before it was finished (the cursor
    /// still at 0): the next sync downloads nothing, finishes it and pulls what came after.
    @Test func aBootstrapCutAfterItsLastChunkFinishesWithoutDownloadingAgain() async throws {
        let server = InMemoryTransport()
        let writer = try Device("writer", transport: server)
        try await BootstrapTests.writeHistory(on: writer)
        let manifest = try #require(try await server.buildSnapshot(of: "notes", policy: Self.policy))
        try writer.write("UPDATE notes SET title = 'late' WHERE id = (SELECT min(id) FROM notes)")
        try writer.write("INSERT INTO notes (id, title) VALUES ('after', 'the snapshot')")
        try await writer.sync()

        let fresh = try Device("fresh", transport: server)
        try await fresh.store.beginBootstrap(space: "notes", manifest: manifest)
        for chunk in manifest.chunks {
            let body = try await server.chunk(id: chunk.id)
            try await fresh.store.applySnapshotChunk(
                try SnapshotRecord.lines(of: body),
                id: chunk.id,
                bytes: body.count,
                space: "notes",
                snapshotSeq: manifest.snapshotSeq,
                logID: manifest.logID
            )
        }
        let faulty = FaultInjectingTransport(server)
        let report = try await BootstrapTests.engine(fresh, transport: faulty).sync()
        #expect(faulty.count(of: .chunk) == 0)
        #expect(report.bootstraps == 1)
        let replaying = try Device("replaying", transport: server)
        try await replaying.sync()
        #expect(try fresh.rows() == replaying.rows())
        #expect(try BootstrapTests.sameShadow(fresh, replaying))
        #expect(try await fresh.store.cursor(space: "notes").lastSeq == replaying.store.cursor(space: "notes").lastSeq)
    }

    @Test func aPrunedHistoryBootstrapsKeepingPendingChanges() async throws {
        let server = InMemoryTransport()
        let writer = try Device("writer", transport: server)
        let device = try Device("device", transport: server)
        try writer.write("INSERT INTO notes (id, title, body) VALUES ('shared', 'one', 'b'), ('doomed', 'x', 'y')")
        try await writer.sync()
        try await device.sync()
        try device.write("UPDATE notes SET title = 'mine' WHERE id = 'shared'")
        try writer.write("UPDATE notes SET body = 'theirs' WHERE id = 'shared'")
        try writer.write("DELETE FROM notes WHERE id = 'doomed'")
        for index in 0..<12 { try writer.write("INSERT INTO notes (id, title) VALUES (?, 't')", ["w\(index)"]) }
        try await writer.sync()
        let manifest = try #require(try await server.buildSnapshot(of: "notes", policy: Self.policy))
        #expect(try await server.prune(space: "notes", through: manifest.snapshotSeq) == manifest.snapshotSeq)
        let faulty = FaultInjectingTransport(server)
        var report = SyncEngine.Report()
        try await BootstrapTests.engine(device, transport: faulty, threshold: 1_000_000)
            .pull(wait: nil, into: &report)
        #expect(report.bootstraps == 1)
        #expect(faulty.count(of: .manifest) == 1)
        #expect(try await device.store.counts().pending == 1)
        let shared = try device.rows().first { $0["id"] == "\"shared\"" }
        #expect(shared?["title"] == "\"mine\"")
        #expect(shared?["body"] == "\"theirs\"")
        #expect(try device.rows().first { $0["id"] == "\"doomed\"" } == nil)
        try await settle([device, writer])
        #expect(try device.rows() == writer.rows())
    }

    @Test func aBulkChunkRetriedAfterALostAnswerStoresNothingTwice() async throws {
        let server = InMemoryTransport()
        let faulty = FaultInjectingTransport(server)
        let device = try Device("device", transport: faulty)
        for index in 0..<45 { try device.write("INSERT INTO notes (id, title) VALUES (?, 'x')", ["k\(index)"]) }
        let engine = BulkPushTests.engine(device, transport: faulty)
        faulty.inject(.loseAnswer, on: .bulkPush, times: 2)
        await #expect(throws: SyncTransportError.self) { _ = try await engine.sync() }
        await #expect(throws: SyncTransportError.self) { _ = try await engine.sync() }
        #expect(server.log(of: "notes").count == 20)
        let report = try await engine.sync()
        #expect(report.bulkChunks == 3)
        #expect(report.pushed == 45)
        #expect(faulty.count(of: .bulkPush) == 5)
        #expect(faulty.count(of: .push) == 0)
        #expect(server.log(of: "notes").count == 45)
        #expect(try await device.store.counts().pending == 0)
    }
}
