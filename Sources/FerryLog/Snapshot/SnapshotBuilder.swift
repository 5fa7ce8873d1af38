import FerryCore

/// Builds a space's snapshot, incrementally and with a bounded amount in memory.
///
/// 1. **State.** The store's state table holds every record's latest version up to its
///    state seq. The builder reads the log after it a page at a time, applies each page with
///    the protocol's merge rules (``FerryCore/RecordMerge``, the client's own) and writes the
///    page's changes and the new state seq in one transaction. The state never starts again
///    from seq 1, and a crash loses at most the page in flight.
/// 2. **Chunks.** It scans the state in key order a page at a time and cuts it with
///    ``SnapshotChunker``; each chunk is stored as it is cut (a chunk the space holds already,
///    unchanged since an earlier snapshot, is not written again).
/// 3. **Manifest.** It publishes the manifest only if the state seq is still the one it
///    scanned: builders on several servers of a cluster may race, and the loser's manifest is
///    dropped (its chunks are collected later).
public struct SnapshotBuilder: Sendable {
    /// What a build did.
    public struct Outcome: Sendable, Hashable {
        /// The published manifest.
        public var manifest: SnapshotManifest
        /// Mutations applied to the state by this build.
        public var mutationsApplied: Int
        /// Chunks of the manifest that an earlier snapshot of the space had already.
        public var chunksShared: Int
    }

    /// The store.
    public let store: any SnapshotStore
    /// How chunks are cut.
    public let policy: SnapshotPolicy
    /// Mutations read and applied per state transaction. Default 5,000.
    public var statePageSize: Int
    /// Records read per scan of the state. Default 2,000.
    public var scanPageSize: Int
    private let clock: WallClock

    /// Creates a builder.
    public init(
        store: any SnapshotStore,
        policy: SnapshotPolicy,
        clock: WallClock = .system,
        statePageSize: Int = 5000,
        scanPageSize: Int = 2000
    ) {
        self.store = store
        self.policy = policy
        self.clock = clock
        self.statePageSize = max(1, statePageSize)
        self.scanPageSize = max(1, scanPageSize)
    }

    /// Builds and publishes a snapshot of `space` at its current head. Answers `nil` when
    /// there is nothing to do (no log, or the newest snapshot is at the head already) or
    /// when another builder published first.
    public func build(space: String) async throws -> Outcome? {
        let status = try await store.snapshotStatus(space: space)
        guard !status.logID.isEmpty, status.headSeq > status.snapshotSeq else { return nil }
        let target = status.headSeq
        var applied = 0
        var stateSeq = status.stateSeq
        while stateSeq < target {
            let (next, count) = try await advanceState(space: space, from: stateSeq, through: target)
            stateSeq = next
            applied += count
        }
        let previous = Set(try await store.newestManifest(space: space)?.chunks.map(\.id) ?? [])
        let chunks = try await cutChunks(space: space)
        let manifest = SnapshotManifest(logID: status.logID, snapshotSeq: stateSeq, floorSeq: status.floorSeq, chunks: chunks)
        guard try await store.publishManifest(space: space, manifest: manifest, at: clock.nowMilliseconds()) else { return nil }
        return Outcome(manifest: manifest, mutationsApplied: applied, chunksShared: chunks.filter { previous.contains($0.id) }.count)
    }

    /// Applies the next page of the log after `from` (up to `target`) to the state; answers
    /// the new state seq and how many mutations it applied.
    private func advanceState(space: String, from: Int64, through target: Int64) async throws -> (Int64, Int) {
        let page = try await store.read(space: space, since: from, limit: statePageSize, excludingDevice: nil)
        let to = min(page.latestSeq, target)
        let mutations = page.mutations.prefix { $0.seq <= to }
        // Only a patch needs the version before it; upserts and deletes replace it whole.
        var needed: Set<RecordKey> = []
        var seen: Set<RecordKey> = []
        for entry in mutations {
            let key = RecordKey(entity: entry.entity, key: entry.entityKey)
            if seen.insert(key).inserted && entry.op == .patch { needed.insert(key) }
        }
        var working: [RecordKey: StateRecord?] = [:]
        if !needed.isEmpty {
            let current = try await store.stateRecords(space: space, keys: Array(needed))
            for key in needed { working[key] = .some(current[key]) }
        }
        for entry in mutations {
            let key = RecordKey(entity: entry.entity, key: entry.entityKey)
            let before = working[key] ?? nil
            working[key] = .some(try Self.apply(entry, to: before))
        }
        var upserts: [StateRecord] = []
        var deletes: [RecordKey] = []
        for (key, record) in working {
            if let record { upserts.append(record) } else { deletes.append(key) }
        }
        try await store.updateState(space: space, from: from, to: to, upserts: upserts, deletes: deletes)
        return (to, mutations.count)
    }

    /// A record after one logged mutation, by the protocol's merge rules: an upsert's payload
    /// is kept as it was pushed; a patch's result is written with sorted keys.
    static func apply(_ entry: StoredMutation, to record: StateRecord?) throws -> StateRecord? {
        switch entry.op {
        case .upsert:
            return StateRecord(entity: entry.entity, entityKey: entry.entityKey, payload: entry.payload ?? Array("{}".utf8), seq: entry.seq)
        case .patch:
            let before = try record.map { try JSONValue(parsing: $0.payload).objectValue ?? [:] }
            let patch = try entry.payload.map { try JSONValue(parsing: $0).objectValue ?? [:] }
            let merged = RecordMerge.apply(.patch, payload: patch, to: before) ?? [:]
            return StateRecord(
                entity: entry.entity,
                entityKey: entry.entityKey,
                payload: JSONValue.object(merged).serialized(),
                seq: entry.seq
            )
        default:
            return nil
        }
    }

    /// Scans the state in key order and stores its chunks as they are cut.
    private func cutChunks(space: String) async throws -> [SnapshotManifest.Chunk] {
        var chunker = SnapshotChunker(maxRecords: policy.chunkRecords, maxBytes: policy.chunkBytes)
        var chunks: [SnapshotManifest.Chunk] = []
        var after: RecordKey?
        func store(_ cut: SnapshotChunker.Cut) async throws {
            let created = try await self.store.storeChunk(
                space: space,
                id: cut.id,
                records: cut.records,
                body: cut.body,
                at: clock.nowMilliseconds()
            )
            chunks.append(SnapshotManifest.Chunk(id: cut.id, records: cut.records, bytes: cut.body.count, createdAtMilliseconds: created))
        }
        while true {
            let page = try await self.store.scanState(space: space, after: after, limit: scanPageSize)
            for record in page {
                for cut in chunker.add(record) { try await store(cut) }
            }
            guard page.count == scanPageSize, let last = page.last else { break }
            after = last.key
        }
        if let cut = chunker.finish() { try await store(cut) }
        return chunks
    }
}
