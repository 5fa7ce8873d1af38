import FerryCore
import FerryServer
import Synchronization

/// A switch that makes a test server's storage unavailable, as a PostgreSQL server that is
/// down or an SQLite file that stays locked would: while it is on, every read, append and
/// health check throws `FerryError(.unavailable)`.
public final class StorageOutage: Sendable {
    private let down = Mutex(false)
    private let failure = Mutex<FerryError?>(nil)
    private let streamReads = Mutex(0)
    private let pageReads = Mutex(PageReads())

    /// The pages read through the switch, and the reads held back while reads are held.
    private struct PageReads {
        var count = 0
        var isHeld = false
        var held: [CheckedContinuation<Void, Never>] = []
    }

    public init() {}

    /// The store `base`, unavailable while this switch is on.
    public func eventLog(over base: any EventLog) -> any EventLog {
        OutageEventLog(base: base, outage: self)
    }

    /// How many pages of the log (`read(space:since:limit:excludingDevice:)`) were read
    /// through this switch.
    public var pagesRead: Int { pageReads.withLock(\.count) }

    /// Makes later page reads wait until ``releasePageReads()``.
    public func holdPageReads() { pageReads.withLock { $0.isHeld = true } }

    /// Lets the held page reads and later ones go on.
    public func releasePageReads() {
        let held = pageReads.withLock { reads in
            reads.isHeld = false
            defer { reads.held = [] }
            return reads.held
        }
        for continuation in held { continuation.resume() }
    }

    /// Counts a page read, and holds it while reads are held.
    func passPageRead() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isHeld = pageReads.withLock { reads in
                reads.count += 1
                if reads.isHeld { reads.held.append(continuation) }
                return reads.isHeld
            }
            if !isHeld { continuation.resume() }
        }
    }

    /// Whether the storage is down now.
    public var isDown: Bool { down.withLock { $0 } }

    /// Takes the storage down (`true`) or brings it back (`false`).
    public func set(down value: Bool) { down.withLock { $0 = value } }

    /// Makes every read, append and health check throw `error` instead (`nil` ends it): the
    /// way a test makes a route answer an error its storage can raise, such as `rate_limited`.
    public func set(failing error: FerryError?) { failure.withLock { $0 = error } }

    /// How many pages of event streams were read from the storage through this switch.
    public var streamPagesRead: Int { streamReads.withLock { $0 } }

    func countStreamRead() { streamReads.withLock { $0 += 1 } }

    func check() throws {
        if let error = failure.withLock({ $0 }) { throw error }
        if isDown { throw FerryError(.unavailable, "the storage is unavailable, retry later") }
    }
}

/// An event log that forwards to `base` unless its ``StorageOutage`` is on.
struct OutageEventLog: EventLog {
    let base: any EventLog
    let outage: StorageOutage

    func append(_ batch: AppendBatch) async throws -> AppendResult {
        try outage.check()
        return try await base.append(batch)
    }

    func read(space: String, since: Int64, limit: Int, excludingDevice: String?) async throws -> LogPage {
        try outage.check()
        await outage.passPageRead()
        return try await base.read(space: space, since: since, limit: limit, excludingDevice: excludingDevice)
    }

    func readStream(space: String, types: [String], after: Int64, through: Int64, limit: Int) async throws -> [StoredMutation] {
        try outage.check()
        outage.countStreamRead()
        return try await base.readStream(space: space, types: types, after: after, through: through, limit: limit)
    }

    func streamPosition(space: String, deviceID: String) async throws -> StreamPosition {
        try outage.check()
        return try await base.streamPosition(space: space, deviceID: deviceID)
    }

    func storeCheckpoints(_ update: CheckpointUpdate) async throws {
        try outage.check()
        try await base.storeCheckpoints(update)
    }

    func clearCheckpoints(space: String, deviceID: String, types: [String]?) async throws {
        try outage.check()
        try await base.clearCheckpoints(space: space, deviceID: deviceID, types: types)
    }

    func waitForAppend(space: String, above seq: Int64, timeout: Duration) async -> Bool {
        await base.waitForAppend(space: space, above: seq, timeout: timeout)
    }

    func listSpaces(after: String?, limit: Int, recentSince: Int64) async throws -> [SpaceSummary] {
        try outage.check()
        return try await base.listSpaces(after: after, limit: limit, recentSince: recentSince)
    }

    func listCheckpoints(space: String, limit: Int) async throws -> [StoredCheckpoint] {
        try outage.check()
        return try await base.listCheckpoints(space: space, limit: limit)
    }

    func checkHealth() async throws {
        try outage.check()
        try await base.checkHealth()
    }

    func shutdownWaiters() {
        base.shutdownWaiters()
    }
}

/// The snapshots of the wrapped store, through the same outage switch.
extension OutageEventLog: SnapshotStore {
    private var snapshots: any SnapshotStore {
        get throws {
            try outage.check()
            guard let store = base as? any SnapshotStore else { throw FerryError(.internal, "the wrapped store keeps no snapshots") }
            return store
        }
    }

    func snapshotStatus(space: String) async throws -> SnapshotStatus {
        try await snapshots.snapshotStatus(space: space)
    }

    func stateRecords(space: String, keys: [RecordKey]) async throws -> [RecordKey: StateRecord] {
        try await snapshots.stateRecords(space: space, keys: keys)
    }

    func updateState(space: String, from: Int64, to: Int64, upserts: [StateRecord], deletes: [RecordKey]) async throws {
        try await snapshots.updateState(space: space, from: from, to: to, upserts: upserts, deletes: deletes)
    }

    func scanState(space: String, after: RecordKey?, limit: Int) async throws -> [StateRecord] {
        try await snapshots.scanState(space: space, after: after, limit: limit)
    }

    func storeChunk(space: String, id: String, records: Int, body: [UInt8], at milliseconds: Int64) async throws -> Int64 {
        try await snapshots.storeChunk(space: space, id: id, records: records, body: body, at: milliseconds)
    }

    func publishManifest(space: String, manifest: SnapshotManifest, at milliseconds: Int64) async throws -> Bool {
        try await snapshots.publishManifest(space: space, manifest: manifest, at: milliseconds)
    }

    func newestManifest(space: String) async throws -> SnapshotManifest? {
        try await snapshots.newestManifest(space: space)
    }

    func chunkBody(id: String, spaces: [String]) async throws -> [UInt8]? {
        try await snapshots.chunkBody(id: id, spaces: spaces)
    }

    func collectSnapshots(supersededBefore milliseconds: Int64) async throws -> SnapshotCollection {
        try await snapshots.collectSnapshots(supersededBefore: milliseconds)
    }

    func prune(space: String, through floor: Int64, dryRun: Bool) async throws -> PruneOutcome {
        try await snapshots.prune(space: space, through: floor, dryRun: dryRun)
    }

    func seqCommitted(space: String, atOrBefore milliseconds: Int64) async throws -> Int64 {
        try await snapshots.seqCommitted(space: space, atOrBefore: milliseconds)
    }

    func logSizes() async throws -> [SpaceLogSize] {
        try await snapshots.logSizes()
    }

    func logSizes(of spaces: Set<String>) async throws -> [SpaceLogSize] {
        try await snapshots.logSizes(of: spaces)
    }

    func takeWrittenSpaces() -> Set<String>? { (base as? any SnapshotStore)?.takeWrittenSpaces() }
}
