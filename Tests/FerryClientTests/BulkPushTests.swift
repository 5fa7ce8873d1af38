import FerryClient
import FerryCore
import FerryTestKit
import GRDB
import Testing

/// Pushing a large outbox in bulk chunks.
@Suite struct BulkPushTests {
    static func engine(_ device: Device, transport: any SyncTransport) -> SyncEngine {
        var engine = SyncEngine(store: device.store, transport: transport, space: "notes", bulkThreshold: 10)
        engine.bulkChunkMutations = 20
        return engine
    }

    @Test func aLargeOutboxGoesInBulkChunksAndARetriedChunkStoresNothingTwice() async throws {
        let server = SnapshotStubTransport()
        let faulty = FaultInjectingTransport(server)
        let device = try Device("device", transport: faulty)
        for index in 0..<50 {
            try device.write("INSERT INTO notes (id, title, n) VALUES (?, 'bulk', ?)", ["b\(index)", index])
        }
        try device.write("UPDATE notes SET title = 'patched' WHERE id = 'b3'")
        let engine = Self.engine(device, transport: faulty)
        faulty.inject(.loseAnswer, on: .bulkPush)
        await #expect(throws: SyncTransportError.self) { _ = try await engine.sync() }
        #expect(server.base.log(of: "notes").count == 20)
        #expect(try await device.store.counts().pending == 51)

        let report = try await engine.sync()
        #expect(report.bulkChunks == 3)
        #expect(report.pushed == 51)
        let ids = server.bulkChunkIDs
        #expect(ids.count == 4)
        #expect(ids[0] == ids[1])  // the same entries, the same chunk
        #expect(Set(ids).count == 3)
        #expect(server.base.log(of: "notes").count == 51)
        #expect(try await device.store.counts().pending == 0)
        #expect(faulty.count(of: .push) == 0)

        let other = try Device("other", transport: server)
        try await other.sync()
        #expect(try other.rows() == device.rows())
        #expect(try other.rows().first { $0["id"] == "\"b3\"" }?["title"] == "\"patched\"")
    }

    @Test func aBulkChunkIsTheSameForTheSameEntries() async throws {
        let device = try Device("device", transport: InMemoryTransport())
        for index in 0..<5 { try device.write("INSERT INTO notes (id, title, body) VALUES (?, 'x', 'y')", ["k\(index)"]) }
        let first = try #require(try await device.store.nextBulkChunk(space: "notes", maxMutations: 10, maxBytes: 1 << 20))
        let again = try #require(try await device.store.nextBulkChunk(space: "notes", maxMutations: 10, maxBytes: 1 << 20))
        #expect(first.request.chunkID == again.request.chunkID)
        #expect(first.request.chunkID == SyncEngine.sha256Hex(first.request.body))
        #expect(first.batch.request.mutations.count == 5)
        let lines = first.request.body.split(separator: UInt8(ascii: "\n"))
        #expect(lines.count == 5)
        let decoded = try lines.map { try PushRequest.mutationLine($0) }
        #expect(decoded == first.batch.request.mutations)
        // A byte limit cuts the chunk before the line that passes it, keeping one line at least.
        let small = try #require(try await device.store.nextBulkChunk(space: "notes", maxMutations: 10, maxBytes: lines[0].count + 1))
        #expect(small.batch.request.mutations.count == 1)
        let tiny = try #require(try await device.store.nextBulkChunk(space: "notes", maxMutations: 10, maxBytes: 1))
        #expect(tiny.batch.request.mutations.count == 1)
    }

    @Test func aServerWithoutBulkUploadGetsPushBatches() async throws {
        let server = InMemoryTransport()
        let faulty = FaultInjectingTransport(PushPullOnly(base: server))
        let device = try Device("device", transport: faulty)
        for index in 0..<30 { try device.write("INSERT INTO notes (id, title) VALUES (?, 'x')", ["k\(index)"]) }
        var engine = Self.engine(device, transport: faulty)
        engine.pushBatchSize = 8
        let report = try await engine.sync()
        #expect(report.bulkChunks == 0)
        #expect(report.pushed == 30)
        #expect(faulty.count(of: .bulkPush) == 1)
        #expect(faulty.count(of: .push) == 4)
        #expect(server.log(of: "notes").count == 30)
    }

    @Test func importedRecordsAreLocalUpserts() async throws {
        let server = SnapshotStubTransport()
        let device = try Device("device", transport: server)
        try device.write("INSERT INTO notes (id, title) VALUES ('k1', 'old')")
        try await device.sync()
        let records: [RecordFields] = [
            ["id": .string("k1"), "title": .string("new"), "extra": .int(1)],
            ["id": .int(7), "title": .null, "n": .int(3)],
        ]
        var iterator = records.makeIterator()
        #expect(try device.store.importRecords(into: "notes") { iterator.next() } == 2)
        let outbox = try device.outbox()
        #expect(outbox.map(\.op) == ["upsert", "upsert"])
        #expect(outbox.map(\.key) == ["k1", "7"])
        #expect(outbox[0].payload?.contains("extra") == false)
        #expect(try device.rows().first { $0["id"] == "\"k1\"" }?["title"] == "\"new\"")
        let bad: [RecordFields] = [["id": .string("k9"), "title": .string("fine")], ["title": .string("no key")]]
        var badIterator = bad.makeIterator()
        #expect(throws: LocalStoreError.self) { try device.store.importRecords(into: "notes") { badIterator.next() } }
        #expect(try device.outbox().count == 2)
        var report = SyncEngine.Report()
        try await Self.engine(device, transport: server).pushBulk(into: &report)
        #expect(report.bulkChunks == 1)
        #expect(report.pushed == 2)
    }
}

extension PushRequest {
    /// Reads one bulk chunk line as a mutation.
    static func mutationLine(_ line: some Collection<UInt8>) throws -> MutationInput {
        try MutationInput(jsonBytes: line)
    }
}

/// A transport of an older server: push and pull only (the protocol's default snapshot and
/// bulk calls refuse as `permanent`).
struct PushPullOnly: SyncTransport {
    let base: InMemoryTransport

    func push(_ request: PushRequest) async throws -> PushResponse {
        try await base.push(request)
    }

    func pull(space: String, since: Int64, limit: Int?, excludeDevice: String?, wait: Duration?) async throws -> PullResponse {
        try await base.pull(space: space, since: since, limit: limit, excludeDevice: excludeDevice, wait: wait)
    }
}
