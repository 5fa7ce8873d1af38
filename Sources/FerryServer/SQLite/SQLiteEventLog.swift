import FerryCore
import Foundation
import GRDB

/// The ``EventLog`` of a single server, in a SQLite file.
///
/// SQLite has one writer at a time, so seqs come out dense and commit-ordered without
/// anything more: a batch reads the head, inserts its mutations under the next seqs and
/// moves the head in one transaction. Readers see WAL snapshots and never block the writer.
///
/// Duplicates are found by the unique index on (space, device, session, client action id).
/// Conflict reports come from `record_head`, which keeps per record the latest seq and its
/// device, and `other_seq`: the latest seq written by any *other* device than that one. So
/// "the latest write of this record by a device other than D" is `seq` when D is not the
/// latest writer, and `other_seq` when it is: one row read per mutation, no scan.
public final class SQLiteEventLog: EventLog {
    private let database: SQLiteDatabase
    private let watcher: CommitWatcher
    private let clock: WallClock

    /// Creates the log on an opened database.
    /// - Parameters:
    ///   - database: The migrated database.
    ///   - watcher: Wakes long-poll waiters after each commit.
    ///   - clock: Gives each batch its commit time (`occurred_at`) and each log its creation time.
    public init(database: SQLiteDatabase, watcher: CommitWatcher = CommitWatcher(), clock: WallClock = .system) {
        self.database = database
        self.watcher = watcher
        self.clock = clock
    }

    public func append(_ batch: AppendBatch) async throws -> AppendResult {
        let now = clock.nowMilliseconds()
        let result = try await database.pool.write { db in
            try Self.append(batch, at: now, in: db)
        }
        watcher.publish(space: batch.space, head: result.headSeq)
        return result
    }

    public func read(space: String, since: Int64, limit: Int, excludingDevice: String?) async throws -> LogPage {
        let page = try await database.pool.read { db in
            try Self.read(space: space, since: since, limit: limit, excludingDevice: excludingDevice, in: db)
        }
        if let page { return page }
        // The space has no log yet: create it, so its log_id is fixed from the first time a
        // client sees it.
        let now = clock.nowMilliseconds()
        return try await database.pool.write { db in
            _ = try Self.ensureSpace(space, at: now, in: db)
            return try Self.read(space: space, since: since, limit: limit, excludingDevice: excludingDevice, in: db)!
        }
    }

    public func waitForAppend(space: String, above seq: Int64, timeout: Duration) async -> Bool {
        await watcher.wait(space: space, above: seq, timeout: timeout)
    }

    public func checkHealth() async throws {
        try await database.pool.read { db in
            _ = try Int.fetchOne(db, sql: "SELECT 1")
        }
    }

    public func shutdownWaiters() {
        watcher.shutdown()
    }

    private struct SpaceRow {
        var id: Int64
        var logID: String
        var head: Int64
    }

    private static func fetchSpace(_ name: String, in db: Database) throws -> SpaceRow? {
        let statement = try db.cachedStatement(sql: "SELECT id, log_id, head_seq FROM space WHERE name = ?")
        guard let row = try Row.fetchOne(statement, arguments: [name]) else { return nil }
        return SpaceRow(id: row[0], logID: row[1], head: row[2])
    }

    private static func ensureSpace(_ name: String, at now: Int64, in db: Database) throws -> SpaceRow {
        if let space = try fetchSpace(name, in: db) { return space }
        try db.execute(
            sql: "INSERT INTO space (name, log_id, head_seq, created_at) VALUES (?, ?, 0, ?)",
            arguments: [name, UUID().uuidString.lowercased(), now]
        )
        return try fetchSpace(name, in: db)!
    }

    private static func append(_ batch: AppendBatch, at now: Int64, in db: Database) throws -> AppendResult {
        let space = try ensureSpace(batch.space, at: now, in: db)
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO mutation (space_id, seq, device_id, session_id, client_action_id, entity,
                    entity_key, op, payload, base_seq, client_timestamp, occurred_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (space_id, device_id, session_id, client_action_id) DO NOTHING
                """
        )
        let findDuplicate = try db.cachedStatement(
            sql: "SELECT seq FROM mutation WHERE space_id = ? AND device_id = ? AND session_id = ? AND client_action_id = ?"
        )
        let readRecordHead = try db.cachedStatement(
            sql: "SELECT seq, device_id, other_seq FROM record_head WHERE space_id = ? AND entity = ? AND entity_key = ?"
        )
        let writeRecordHead = try db.cachedStatement(
            sql: """
                INSERT INTO record_head (space_id, entity, entity_key, seq, device_id, other_seq)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (space_id, entity, entity_key)
                DO UPDATE SET seq = excluded.seq, device_id = excluded.device_id, other_seq = excluded.other_seq
                """
        )

        var head = space.head
        var outcomes: [AppendOutcome] = []
        outcomes.reserveCapacity(batch.mutations.count)
        var conflicts: [ConflictReport] = []
        for mutation in batch.mutations {
            let seq = head + 1
            try insert.execute(arguments: [
                space.id, seq, batch.deviceID, batch.sessionID, mutation.clientActionID, mutation.entity,
                mutation.entityKey, mutation.op.rawValue, mutation.payload.map { Data($0) }, mutation.baseSeq,
                mutation.clientTimestamp, now,
            ])
            if db.changesCount == 0 {
                let stored = try Int64.fetchOne(
                    findDuplicate,
                    arguments: [space.id, batch.deviceID, batch.sessionID, mutation.clientActionID]
                )
                outcomes.append(.duplicate(seq: stored ?? 0))
                continue
            }
            head = seq
            outcomes.append(.stored(seq: seq))

            let current = try Row.fetchOne(readRecordHead, arguments: [space.id, mutation.entity, mutation.entityKey]).map {
                RecordHead(seq: $0[0], deviceID: $0[1], otherSeq: $0[2])
            }
            if let conflict = RecordHead.conflict(
                clientActionID: mutation.clientActionID,
                entity: mutation.entity,
                entityKey: mutation.entityKey,
                baseSeq: mutation.baseSeq,
                by: batch.deviceID,
                head: current
            ) {
                conflicts.append(conflict)
            }
            let next = RecordHead.after(current, write: seq, by: batch.deviceID)
            try writeRecordHead.execute(arguments: [
                space.id, mutation.entity, mutation.entityKey, next.seq, next.deviceID, next.otherSeq,
            ])
        }
        if head != space.head {
            try db.execute(sql: "UPDATE space SET head_seq = ? WHERE id = ?", arguments: [head, space.id])
        }
        return AppendResult(outcomes: outcomes, conflicts: conflicts, headSeq: head, logID: space.logID)
    }

    /// Reads a page, or answers `nil` when the space has no log yet.
    private static func read(
        space name: String,
        since: Int64,
        limit: Int,
        excludingDevice: String?,
        in db: Database
    ) throws -> LogPage? {
        guard let space = try fetchSpace(name, in: db) else { return nil }
        guard since <= space.head else {
            throw FerryError(.cursorAhead, "since_seq \(since) is above the head of space '\(name)' (\(space.head))")
        }
        let columns = """
            SELECT seq, device_id, session_id, client_action_id, entity, entity_key, op, payload,
                base_seq, client_timestamp, occurred_at FROM mutation
            """
        let rows: RowCursor
        if let excludingDevice {
            let statement = try db.cachedStatement(
                sql: "\(columns) WHERE space_id = ? AND seq > ? AND device_id <> ? ORDER BY seq LIMIT ?"
            )
            rows = try Row.fetchCursor(statement, arguments: [space.id, since, excludingDevice, limit])
        } else {
            let statement = try db.cachedStatement(sql: "\(columns) WHERE space_id = ? AND seq > ? ORDER BY seq LIMIT ?")
            rows = try Row.fetchCursor(statement, arguments: [space.id, since, limit])
        }
        var mutations: [StoredMutation] = []
        mutations.reserveCapacity(min(limit, 1024))
        while let row = try rows.next() {
            let payload: [UInt8]? = try row.withUnsafeData(atIndex: 7) { $0.map { [UInt8]($0) } }
            mutations.append(
                StoredMutation(
                    seq: row[0],
                    deviceID: row[1],
                    sessionID: row[2],
                    clientActionID: row[3],
                    entity: row[4],
                    entityKey: row[5],
                    op: MutationOp(rawValue: row[6]),
                    payload: payload,
                    baseSeq: row[8],
                    clientTimestamp: row[9],
                    occurredAtMilliseconds: row[10]
                )
            )
        }
        let latest = mutations.count == limit ? mutations[mutations.count - 1].seq : space.head
        return LogPage(mutations: mutations, latestSeq: latest, headSeq: space.head, logID: space.logID)
    }
}
