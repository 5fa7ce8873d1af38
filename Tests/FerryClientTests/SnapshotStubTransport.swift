import FerryClient
import FerryCore
import FerryTestKit
import Synchronization

/// An ``InMemoryTransport`` with snapshots, retention and bulk upload played by the test:
/// ``publishSnapshot(recordsPerChunk:)`` cuts the log's state into chunks as the protocol
/// describes them (replaying the log with `RecordMerge`), ``prune(floor:)`` makes pulls below
/// the floor answer `410 history_pruned`, and bulk chunks are stored through the memory
/// server's push (its dedup triples), the answer kept per chunk id.
final class SnapshotStubTransport: SyncTransport {
    private struct State {
        var manifest: SnapshotManifest?
        var chunks: [String: [UInt8]] = [:]
        var floor: Int64 = 0
        var chunkCalls = 0
        var failChunksAfter: Int?
        var bulkAnswers: [String: PushResponse] = [:]
        var bulkChunkIDs: [String] = []
    }

    let base: InMemoryTransport
    let space: String
    private let state = Mutex(State())

    init(space: String = "notes", base: InMemoryTransport = InMemoryTransport()) {
        self.space = space
        self.base = base
    }

    /// Chunk downloads answered (failed ones included).
    var chunkCalls: Int { state.withLock { $0.chunkCalls } }
    /// The ids of the bulk chunks received, in order.
    var bulkChunkIDs: [String] { state.withLock { $0.bulkChunkIDs } }
    /// The manifest published last.
    var manifest: SnapshotManifest? { state.withLock { $0.manifest } }

    /// Makes chunk downloads after the first `count` fail as transient; `nil` lets all through.
    func failChunks(after count: Int?) {
        state.withLock { $0.failChunksAfter = count }
    }

    /// Pulls with `since_seq` below `floor` answer `410 history_pruned`.
    func prune(floor: Int64) {
        state.withLock { $0.floor = floor }
    }

    /// Publishes a snapshot of the whole log as it is now.
    @discardableResult
    func publishSnapshot(recordsPerChunk: Int) async throws -> SnapshotManifest {
        let head = try await base.pull(space: space, since: 0, limit: 1, excludeDevice: nil, wait: nil)
        var records: [RecordKey: (fields: RecordFields, seq: Int64)] = [:]
        for stored in base.log(of: space) {
            let mutation = try stored.logged()
            let key = RecordKey(entity: mutation.entity, key: mutation.entityKey)
            let after = RecordMerge.apply(mutation.op, payload: mutation.payload?.objectValue, to: records[key]?.fields)
            records[key] = after.map { ($0, mutation.seq) }
        }
        let ordered = records.sorted { ($0.key.entity, $0.key.key) < ($1.key.entity, $1.key.key) }
        var chunks: [SnapshotManifest.Chunk] = []
        var bodies: [String: [UInt8]] = [:]
        var index = 0
        while index < ordered.count {
            var writer = JSONWriter(capacity: 4096)
            let slice = ordered[index..<min(ordered.count, index + recordsPerChunk)]
            for (key, record) in slice {
                var payload = JSONWriter(capacity: 256)
                payload.value(.object(record.fields))
                SnapshotRecord(entity: key.entity, entityKey: key.key, payload: payload.bytes, seq: record.seq).writeLine(to: &writer)
            }
            let body = writer.bytes
            let id = SyncEngine.sha256Hex(body)
            bodies[id] = body
            chunks.append(SnapshotManifest.Chunk(id: id, records: slice.count, bytes: body.count, createdAtMilliseconds: 0))
            index += recordsPerChunk
        }
        let manifest = SnapshotManifest(logID: head.logID, snapshotSeq: head.headSeq, floorSeq: 0, chunks: chunks)
        state.withLock { state in
            state.manifest = manifest
            state.chunks.merge(bodies) { old, _ in old }
        }
        return manifest
    }

    func push(_ request: PushRequest) async throws -> PushResponse {
        try await base.push(request)
    }

    func pull(space: String, since: Int64, limit: Int?, excludeDevice: String?, wait: Duration?) async throws -> PullResponse {
        let floor = state.withLock { $0.floor }
        if since < floor {
            var error = SyncTransportError(.historyPruned, "since_seq \(since) is below the floor", status: 410, code: .historyPruned)
            error.floorSeq = floor
            throw error
        }
        var page = try await base.pull(space: space, since: since, limit: limit, excludeDevice: excludeDevice, wait: wait)
        page.floorSeq = floor
        return page
    }

    func manifest(space: String) async throws -> SnapshotManifest {
        if let manifest = state.withLock({ $0.manifest }) { return manifest }
        let head = try await base.pull(space: space, since: 0, limit: 1, excludeDevice: nil, wait: nil)
        return SnapshotManifest(logID: head.logID, snapshotSeq: 0, floorSeq: 0, chunks: [])
    }

    func chunk(id: String) async throws -> [UInt8] {
        let body: [UInt8]? = try state.withLock { state in
            state.chunkCalls += 1
            if let limit = state.failChunksAfter {
                guard limit > 0 else { throw SyncTransportError(.transient, "the connection dropped") }
                state.failChunksAfter = limit - 1
            }
            return state.chunks[id]
        }
        guard let body else { throw SyncTransportError(.permanent, "no such chunk", status: 404, code: .notFound) }
        return body
    }

    func bulkPush(_ request: BulkPushRequest) async throws -> PushResponse {
        state.withLock { $0.bulkChunkIDs.append(request.chunkID) }
        if let answer = state.withLock({ $0.bulkAnswers[request.chunkID] }) {
            var again = answer
            let head = try await base.pull(space: request.space, since: 0, limit: 1, excludeDevice: nil, wait: nil)
            again.headSeq = head.headSeq
            return again
        }
        guard SyncEngine.sha256Hex(request.body) == request.chunkID else {
            throw SyncTransportError(.permanent, "the body does not match X-Chunk-Id", status: 400, code: .badRequest)
        }
        var mutations: [MutationInput] = []
        var start = 0
        let body = request.body
        while start < body.count {
            let end = body[start...].firstIndex(of: UInt8(ascii: "\n")) ?? body.count
            if end > start { mutations.append(try MutationInput(jsonBytes: body[start..<end])) }
            start = end + 1
        }
        let answer = try await base.push(
            PushRequest(space: request.space, deviceID: request.deviceID, sessionID: request.sessionID, mutations: mutations)
        )
        state.withLock { $0.bulkAnswers[request.chunkID] = answer }
        return answer
    }
}
