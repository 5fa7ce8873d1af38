import FerryCore

/// A record of a space's snapshot state: its latest version and the last seq that changed it.
public typealias StateRecord = SnapshotRecord

/// Where a space's snapshot work stands, read in one transaction.
public struct SnapshotStatus: Sendable, Hashable {
    /// The space's head.
    public var headSeq: Int64
    /// The id of the space's log ("" when the space has no log).
    public var logID: String
    /// The space's floor: the lowest seq still held, minus one (0 while nothing was pruned).
    public var floorSeq: Int64
    /// The seq the space's state table has reached (every mutation up to it is applied).
    public var stateSeq: Int64
    /// The `snapshot_seq` of the newest published manifest (0 when none).
    public var snapshotSeq: Int64

    /// Creates a status.
    public init(headSeq: Int64, logID: String, floorSeq: Int64, stateSeq: Int64, snapshotSeq: Int64) {
        self.headSeq = headSeq
        self.logID = logID
        self.floorSeq = floorSeq
        self.stateSeq = stateSeq
        self.snapshotSeq = snapshotSeq
    }
}

/// The size of one space's log, for `/healthz` and `/metrics`.
public struct SpaceLogSize: Sendable, Hashable {
    /// The space's name.
    public var space: String
    /// The space's head.
    public var headSeq: Int64
    /// The space's floor.
    public var floorSeq: Int64
    /// The mutations the log holds: `headSeq - floorSeq`.
    public var mutations: Int64 { headSeq - floorSeq }
    /// The `snapshot_seq` of the newest manifest (0 when none).
    public var snapshotSeq: Int64

    /// Creates a size.
    public init(space: String, headSeq: Int64, floorSeq: Int64, snapshotSeq: Int64) {
        self.space = space
        self.headSeq = headSeq
        self.floorSeq = floorSeq
        self.snapshotSeq = snapshotSeq
    }
}

/// What pruning a space did, or would do in a dry run.
public struct PruneOutcome: Sendable, Hashable {
    /// The space.
    public var space: String
    /// The floor before.
    public var floorBefore: Int64
    /// The floor after (equal to ``floorBefore`` when nothing went).
    public var floorAfter: Int64
    /// How many mutations were (or would be) deleted.
    public var mutationsDeleted: Int64
    /// How many runs of dedup triples were kept for them.
    public var tripleRuns: Int

    /// Creates an outcome.
    public init(space: String, floorBefore: Int64, floorAfter: Int64, mutationsDeleted: Int64, tripleRuns: Int) {
        self.space = space
        self.floorBefore = floorBefore
        self.floorAfter = floorAfter
        self.mutationsDeleted = mutationsDeleted
        self.tripleRuns = tripleRuns
    }
}

/// What a garbage collection of snapshots removed.
public struct SnapshotCollection: Sendable, Hashable {
    /// Manifests deleted (superseded longer ago than the keep time).
    public var manifests: Int
    /// Chunks deleted (named by no manifest left).
    public var chunks: Int

    /// Creates a result.
    public init(manifests: Int, chunks: Int) {
        self.manifests = manifests
        self.chunks = chunks
    }
}

/// The storage seam of snapshots and retention, beside ``EventLog`` and implemented by the
/// same stores (memory, SQLite, PostgreSQL), checked by one contract suite.
///
/// A store keeps per space:
/// - a **state table**: the latest version of every record not deleted, with the last seq
///   that changed it, up to the space's `state_seq`. ``SnapshotBuilder`` moves it forward
///   from the log (never from seq 1 again), in transactions of bounded size;
/// - **chunks** by (space, id), stored once whatever the number of manifests naming them;
/// - **manifests**: the newest one, and those superseded less than the keep time ago;
/// - the **floor** and the **runs of dedup triples** of pruned mutations.
///
/// Keys are ordered by entity then entity key, comparing UTF-8 bytes (SQLite's `BINARY`,
/// PostgreSQL's `COLLATE "C"`).
public protocol SnapshotStore: EventLog {
    /// The space's head, log id, floor, state seq and newest snapshot seq, read together.
    /// A space with no log answers zeros and an empty log id; creates nothing.
    func snapshotStatus(space: String) async throws -> SnapshotStatus

    /// The state records of `keys` that exist, by key.
    func stateRecords(space: String, keys: [RecordKey]) async throws -> [RecordKey: StateRecord]

    /// In one transaction: writes `upserts` (insert or replace) and removes `deletes` from
    /// the space's state, and moves its state seq from `from` to `to`.
    /// - Throws: ``FerryCore/FerryError`` `conflict` when the state seq is not `from` (another
    ///   builder moved it): nothing is written.
    func updateState(space: String, from: Int64, to: Int64, upserts: [StateRecord], deletes: [RecordKey]) async throws

    /// At most `limit` state records of the space with a key above `after` (all when `nil`),
    /// in key order: one page of a scan that holds a bounded amount in memory.
    func scanState(space: String, after: RecordKey?, limit: Int) async throws -> [StateRecord]

    /// Stores a chunk's body under (space, id); storing an id the space holds already only
    /// moves its stored time (see ``collectSnapshots(supersededBefore:)``). Answers the
    /// chunk's creation time (the first store's).
    /// - Throws: ``FerryCore/FerryError`` `not_found` for a space with no log.
    func storeChunk(space: String, id: String, records: Int, body: [UInt8], at milliseconds: Int64) async throws -> Int64

    /// Publishes `manifest` as the space's newest, in one transaction, if the space's state
    /// seq still equals `manifest.snapshotSeq`, it is above the newest manifest's, and the
    /// log id is the manifest's; the manifest
    /// it replaces is marked superseded at `milliseconds`. Answers whether it was published.
    func publishManifest(space: String, manifest: SnapshotManifest, at milliseconds: Int64) async throws -> Bool

    /// The space's newest manifest, with the space's current floor; `nil` when none.
    func newestManifest(space: String) async throws -> SnapshotManifest?

    /// The body of chunk `id` when one of `spaces` holds it and a manifest that is kept
    /// names it; `nil` otherwise (the caller answers `404`, whichever the reason).
    func chunkBody(id: String, spaces: [String]) async throws -> [UInt8]?

    /// Deletes the manifests superseded before `milliseconds`, then the chunks no manifest
    /// left names that were last stored before `milliseconds` (a chunk a builder has just
    /// stored for a manifest it is about to publish stays).
    func collectSnapshots(supersededBefore milliseconds: Int64) async throws -> SnapshotCollection

    /// Deletes the space's mutations with `seq ≤ floor` (never above the newest manifest's
    /// `snapshot_seq`, never below the current floor), keeping their dedup triples as runs,
    /// and sets the floor, in one transaction; with `dryRun`, answers what would go and
    /// changes nothing.
    func prune(space: String, through floor: Int64, dryRun: Bool) async throws -> PruneOutcome

    /// The seq of the newest mutation of `space` committed at or before `milliseconds` (the
    /// floor when none it holds is that old): where an age-based retention may put the floor.
    func seqCommitted(space: String, atOrBefore milliseconds: Int64) async throws -> Int64

    /// Every space with a log, with its head, floor and newest snapshot seq.
    func logSizes() async throws -> [SpaceLogSize]

    /// The sizes of those of `spaces` that have a log, in name order (one read, however
    /// many spaces the store holds).
    func logSizes(of spaces: Set<String>) async throws -> [SpaceLogSize]

    /// The spaces whose head moved since the previous call, or `nil` when the store cannot
    /// tell (and on the first call, since nothing was collected before it): then the caller
    /// must look at every space. ``SnapshotService`` looks at these between its full sweeps.
    func takeWrittenSpaces() -> Set<String>?
}

extension SnapshotStore {
    /// Every space's size, filtered: correct for any store, and as slow as ``logSizes()``.
    public func logSizes(of spaces: Set<String>) async throws -> [SpaceLogSize] {
        try await logSizes().filter { spaces.contains($0.space) }
    }

    /// `nil`: a store that does not collect its written spaces makes every round a full one.
    public func takeWrittenSpaces() -> Set<String>? { nil }
}
