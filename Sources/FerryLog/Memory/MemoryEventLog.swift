import FerryCore
import Foundation
import Synchronization

/// An ``EventLog`` in memory, lost when the process ends: for tests, demos and
/// `ferry serve --memory`.
///
/// It keeps every promise of ``EventLog`` with the same rules as the SQLite and PostgreSQL
/// stores (it decides each append with ``AppendPlan``), and the event-log contract suite runs
/// against it with them. Long-poll waiters are woken by its commits through a
/// ``CommitWatcher``, whose clock measures their timeouts.
public final class MemoryEventLog: EventLog {
    private struct SpaceLog {
        var logID = UUID().uuidString.lowercased()
        /// The mutations above the floor, in seq order: `mutations[i].seq == floor + i + 1`.
        var mutations: [StoredMutation] = []
        /// The seq of each stored (device, session, client action id) triple, pruned ones
        /// included (memory is not kept compact; the stores on disk keep runs).
        var triples: [Triple: Int64] = [:]
        var heads: [RecordKey: RecordHead] = [:]
        /// The lowest seq still held, minus one.
        var floor: Int64 = 0
        var head: Int64 { floor + Int64(mutations.count) }
        var snapshots = SnapshotData()
    }

    /// A space's snapshot state, chunks and manifests.
    struct SnapshotData {
        var stateSeq: Int64 = 0
        var state: [RecordKey: StateRecord] = [:]
        /// The state's keys in order, rebuilt on the first scan after a change.
        var sortedKeys: [RecordKey]?
        /// Chunks by id, with when each was first and last stored.
        var chunks: [String: (records: Int, body: [UInt8], createdAt: Int64, storedAt: Int64)] = [:]
        /// Published manifests, oldest first, each with when it stopped being the newest.
        var manifests: [(manifest: SnapshotManifest, supersededAt: Int64?)] = []
    }

    private struct Triple: Hashable {
        var deviceID: String
        var sessionID: String
        var clientActionID: Int64
    }

    private struct DeviceInSpace: Hashable {
        var space: String
        var deviceID: String
    }

    private struct Checkpoint {
        var seq: Int64
        var logID: String
    }

    private let spaces = Mutex<[String: SpaceLog]>([:])
    /// The space's snapshot data, read and changed under the log's lock.
    func withSnapshots<T>(
        of space: String,
        _ body: (inout SnapshotData, _ head: Int64, _ floor: Int64, _ logID: String?) throws -> T
    ) rethrows -> T {
        try spaces.withLock { spaces in
            guard var log = spaces[space] else {
                var empty = SnapshotData()
                return try body(&empty, 0, 0, nil)
            }
            spaces[space] = nil
            defer { spaces[space] = log }
            return try body(&log.snapshots, log.head, log.floor, log.logID)
        }
    }

    /// Every space's log, read under the lock.
    func withLogs<T>(_ body: ([String: (head: Int64, floor: Int64, snapshotSeq: Int64)]) -> T) -> T {
        spaces.withLock { spaces in
            body(spaces.mapValues { ($0.head, $0.floor, $0.snapshots.manifests.last?.manifest.snapshotSeq ?? 0) })
        }
    }

    /// Prunes a space's log through `target`, under the lock: drops the mutations, keeps
    /// their triples, moves the floor.
    func pruneLog(of space: String, through target: Int64, dryRun: Bool) -> PruneOutcome {
        spaces.withLock { spaces in
            guard var log = spaces[space] else {
                return PruneOutcome(space: space, floorBefore: 0, floorAfter: 0, mutationsDeleted: 0, tripleRuns: 0)
            }
            let before = log.floor
            let snapshotSeq = log.snapshots.manifests.last?.manifest.snapshotSeq ?? 0
            let floor = max(before, min(target, snapshotSeq, log.head))
            let count = floor - before
            // The runs the stores on disk would keep: consecutive ids of one (device,
            // session) at consecutive seqs. Memory keeps the triples themselves.
            let pruned = log.mutations.prefix(Int(count)).sorted {
                ($0.deviceID, $0.sessionID, $0.clientActionID) < ($1.deviceID, $1.sessionID, $1.clientActionID)
            }
            var runs = 0
            for (index, entry) in pruned.enumerated() {
                if index > 0 {
                    let previous = pruned[index - 1]
                    if previous.deviceID == entry.deviceID && previous.sessionID == entry.sessionID
                        && previous.clientActionID + 1 == entry.clientActionID && previous.seq + 1 == entry.seq
                    {
                        continue
                    }
                }
                runs += 1
            }
            if !dryRun && count > 0 {
                spaces[space] = nil
                log.mutations.removeFirst(Int(count))
                log.floor = floor
                spaces[space] = log
            }
            return PruneOutcome(space: space, floorBefore: before, floorAfter: floor, mutationsDeleted: count, tripleRuns: runs)
        }
    }

    /// The newest seq committed at or before `milliseconds`.
    func seqCommitted(in space: String, atOrBefore milliseconds: Int64) -> Int64 {
        spaces.withLock { spaces in
            guard let log = spaces[space] else { return 0 }
            // Commit times do not decrease with seq: a binary search finds the last one.
            var low = 0
            var high = log.mutations.count
            while low < high {
                let middle = (low + high) / 2
                if log.mutations[middle].occurredAtMilliseconds <= milliseconds { low = middle + 1 } else { high = middle }
            }
            return low == 0 ? log.floor : log.mutations[low - 1].seq
        }
    }
    /// Kept apart from the logs, so that a replaced log finds the checkpoints of the old one.
    private let checkpoints = Mutex<[DeviceInSpace: [String: Checkpoint]]>([:])
    let watcher: CommitWatcher
    private let clock: WallClock

    /// Creates an empty log.
    /// - Parameters:
    ///   - watcher: Wakes long-poll waiters after each commit; its clock measures their timeouts.
    ///   - clock: Gives each batch its commit time (`occurred_at`).
    public init(watcher: CommitWatcher = CommitWatcher(), clock: WallClock = .system) {
        self.watcher = watcher
        self.clock = clock
    }

    public func append(_ batch: AppendBatch) async throws -> AppendResult {
        let now = clock.nowMilliseconds()
        let result = spaces.withLock { spaces in
            // Appended in place: a copy of the space's log taken out of the dictionary would
            // copy every mutation it holds on each append.
            Self.append(batch, at: now, to: &spaces[batch.space, default: SpaceLog()])
        }
        watcher.publish(space: batch.space, head: result.headSeq)
        return result
    }

    private static func append(_ batch: AppendBatch, at now: Int64, to log: inout SpaceLog) -> AppendResult {
        var stored: [Int64: Int64] = [:]
        var heads: [RecordKey: RecordHead] = [:]
        for mutation in batch.mutations {
            let triple = Triple(deviceID: batch.deviceID, sessionID: batch.sessionID, clientActionID: mutation.clientActionID)
            if let seq = log.triples[triple] { stored[mutation.clientActionID] = seq }
            let record = RecordKey(entity: mutation.entity, key: mutation.entityKey)
            if let head = log.heads[record] { heads[record] = head }
        }
        let plan = AppendPlan(batch, head: log.head, stored: stored, heads: heads)
        for (seq, mutation) in plan.accepted {
            let triple = Triple(deviceID: batch.deviceID, sessionID: batch.sessionID, clientActionID: mutation.clientActionID)
            log.triples[triple] = seq
            log.mutations.append(
                StoredMutation(
                    seq: seq,
                    deviceID: batch.deviceID,
                    sessionID: batch.sessionID,
                    mutation: mutation,
                    occurredAtMilliseconds: now
                )
            )
        }
        for (record, head) in plan.heads { log.heads[record] = head }
        return AppendResult(outcomes: plan.outcomes, conflicts: plan.conflicts, headSeq: plan.headSeq, logID: log.logID)
    }

    public func read(space: String, since: Int64, limit: Int, excludingDevice: String?) async throws -> LogPage {
        try spaces.withLock { spaces in
            let log = spaces[space] ?? SpaceLog()
            spaces[space] = log
            guard since <= log.head else {
                throw FerryError(.cursorAhead, "since_seq \(since) is above the head of space '\(space)' (\(log.head))")
            }
            guard since >= log.floor else {
                throw FerryError.historyPruned(space: space, since: since, floorSeq: log.floor)
            }
            var page: [StoredMutation] = []
            for mutation in log.mutations[Int(since - log.floor)...] where mutation.deviceID != excludingDevice {
                page.append(mutation)
                if page.count == limit { break }
            }
            return LogPage(mutations: page, limit: limit, headSeq: log.head, logID: log.logID, floorSeq: log.floor)
        }
    }

    public func readStream(space: String, types: [String], after: Int64, through: Int64, limit: Int) async throws -> [StoredMutation] {
        let wanted = Set(types)
        return spaces.withLock { spaces in
            let end = min(through, spaces[space]?.head ?? 0)
            guard let log = spaces[space], after < end else { return [] }
            let start = max(after, log.floor)
            guard start < end else { return [] }
            var page: [StoredMutation] = []
            for mutation in log.mutations[Int(start - log.floor)..<Int(end - log.floor)] where wanted.contains(mutation.entity) {
                page.append(mutation)
                if page.count == limit { break }
            }
            return page
        }
    }

    public func streamPosition(space: String, deviceID: String) async throws -> StreamPosition {
        let log = spaces.withLock { spaces in
            spaces[space].map { (head: $0.head, logID: $0.logID, floor: $0.floor) } ?? (head: 0, logID: "", floor: 0)
        }
        let stored = checkpoints.withLock { $0[DeviceInSpace(space: space, deviceID: deviceID)] ?? [:] }
        return StreamPosition(
            headSeq: log.head,
            logID: log.logID,
            floorSeq: log.floor,
            checkpoints: stored.mapValues(\.seq),
            checkpointsOfAnotherLog: stored.values.contains { $0.logID != log.logID }
        )
    }

    public func storeCheckpoints(_ update: CheckpointUpdate) async throws {
        checkpoints.withLock { checkpoints in
            let key = DeviceInSpace(space: update.space, deviceID: update.deviceID)
            var stored = update.merged.reset ? [:] : checkpoints[key] ?? [:]
            for (type, seq) in update.merged.highest {
                let kept = stored[type].flatMap { $0.logID == update.logID ? $0.seq : nil } ?? 0
                stored[type] = Checkpoint(seq: max(kept, seq), logID: update.logID)
            }
            checkpoints[key] = stored.isEmpty ? nil : stored
        }
    }

    public func clearCheckpoints(space: String, deviceID: String, types: [String]?) async throws {
        checkpoints.withLock { checkpoints in
            let key = DeviceInSpace(space: space, deviceID: deviceID)
            guard let types else {
                checkpoints[key] = nil
                return
            }
            for type in types { checkpoints[key]?[type] = nil }
            if checkpoints[key]?.isEmpty == true { checkpoints[key] = nil }
        }
    }

    public func listSpaces(after: String?, limit: Int, recentSince: Int64) async throws -> [SpaceSummary] {
        spaces.withLock { spaces in
            let names = spaces.keys.filter { name in after.map { name > $0 } ?? true }.sorted().prefix(max(0, limit))
            return names.compactMap { name in
                guard let log = spaces[name] else { return nil }
                let newest = log.mutations.suffix(Int(SpaceSummary.recentWritesLimit))
                return SpaceSummary(
                    space: name,
                    logID: log.logID,
                    headSeq: log.head,
                    floorSeq: log.floor,
                    lastWriteMilliseconds: log.mutations.last?.occurredAtMilliseconds,
                    recentWrites: Int64(newest.reversed().prefix { $0.occurredAtMilliseconds > recentSince }.count)
                )
            }
        }
    }

    public func listCheckpoints(space: String, limit: Int) async throws -> [StoredCheckpoint] {
        let logID = spaces.withLock { $0[space]?.logID ?? "" }
        return checkpoints.withLock { checkpoints in
            var listed: [StoredCheckpoint] = []
            for (key, stored) in checkpoints where key.space == space {
                for (type, checkpoint) in stored {
                    listed.append(
                        StoredCheckpoint(deviceID: key.deviceID, type: type, seq: checkpoint.seq, ofCurrentLog: checkpoint.logID == logID)
                    )
                }
            }
            listed.sort { ($0.deviceID, $0.type) < ($1.deviceID, $1.type) }
            return Array(listed.prefix(max(0, limit)))
        }
    }

    public func waitForAppend(space: String, above seq: Int64, timeout: Duration) async -> Bool {
        await watcher.wait(space: space, above: seq, timeout: timeout)
    }

    public func checkHealth() async throws {}

    public func shutdownWaiters() {
        watcher.shutdown()
    }

    /// Forgets `space`'s log: the next append or read creates it anew under a new `log_id`,
    /// as a server restored from an empty backup would. Devices see the new `log_id` and start
    /// over.
    public func replaceLog(of space: String) {
        _ = spaces.withLock { $0.removeValue(forKey: space) }
        watcher.forget(space: space)
    }

    /// Every mutation of `space`'s log above its floor, in seq order, as stored.
    public func mutations(of space: String) -> [StoredMutation] {
        spaces.withLock { $0[space]?.mutations ?? [] }
    }
}
