import FerryCore
import FerryLog
import FerrySQLite
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
///
/// Retention: once a space was pruned (its `floor_seq` is above 0), a read below the floor
/// throws `history_pruned`, and a push looks for its duplicates among the runs of pruned
/// triples too (see `SQLiteEventLog+Snapshot.swift`).
public final class SQLiteEventLog: EventLog {
    let database: SQLiteDatabase
    let watcher: CommitWatcher
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
        let result = try await database.write { db in
            try Self.append(batch, at: now, in: db)
        }
        watcher.publish(space: batch.space, head: result.headSeq)
        return result
    }

    public func read(space: String, since: Int64, limit: Int, excludingDevice: String?) async throws -> LogPage {
        let page = try await database.read { db in
            try Self.read(space: space, since: since, limit: limit, excludingDevice: excludingDevice, in: db)
        }
        if let page { return page }
        // The space has no log yet: create it, so its log_id is fixed from the first time a
        // client sees it.
        let now = clock.nowMilliseconds()
        return try await database.write { db in
            let row = try Self.ensureSpace(space, at: now, in: db)
            return try Self.read(row, named: space, since: since, limit: limit, excludingDevice: excludingDevice, in: db)
        }
    }

    public func readStream(space: String, types: [String], after: Int64, through: Int64, limit: Int) async throws -> [StoredMutation] {
        try await database.read { db in
            guard !types.isEmpty, let space = try Self.fetchSpace(space, in: db) else { return [] }
            let placeholders = Array(repeating: "?", count: types.count).joined(separator: ", ")
            let statement = try db.cachedStatement(
                sql:
                    "\(Self.mutationColumns) WHERE space_id = ? AND seq > ? AND seq <= ? AND entity IN (\(placeholders)) ORDER BY seq LIMIT ?"
            )
            var arguments: [(any DatabaseValueConvertible)?] = [space.id, after, through]
            arguments.append(contentsOf: types.map { $0 as (any DatabaseValueConvertible)? })
            arguments.append(limit)
            return try Self.readMutations(statement, arguments: StatementArguments(arguments), limit: limit)
        }
    }

    public func streamPosition(space: String, deviceID: String) async throws -> StreamPosition {
        try await database.read { db in
            let row = try Self.fetchSpace(space, in: db)
            let logID = row?.logID ?? ""
            var checkpoints: [String: Int64] = [:]
            var ofAnotherLog = false
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: "SELECT type, seq, log_id FROM stream_checkpoint WHERE space = ? AND device_id = ?"),
                arguments: [space, deviceID]
            )
            while let checkpoint = try rows.next() {
                checkpoints[checkpoint[0]] = checkpoint[1]
                if (checkpoint[2] as String) != logID { ofAnotherLog = true }
            }
            return StreamPosition(
                headSeq: row?.head ?? 0,
                logID: logID,
                floorSeq: row?.floor ?? 0,
                checkpoints: checkpoints,
                checkpointsOfAnotherLog: ofAnotherLog
            )
        }
    }

    public func storeCheckpoints(_ update: CheckpointUpdate) async throws {
        let now = clock.nowMilliseconds()
        try await database.write { db in
            if update.merged.reset {
                try db.cachedStatement(sql: "DELETE FROM stream_checkpoint WHERE space = ? AND device_id = ?")
                    .execute(arguments: [update.space, update.deviceID])
            }
            let upsert = try db.cachedStatement(
                sql: """
                    INSERT INTO stream_checkpoint (space, device_id, type, seq, log_id, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (space, device_id, type) DO UPDATE SET
                        seq = CASE WHEN log_id = excluded.log_id THEN max(seq, excluded.seq) ELSE excluded.seq END,
                        log_id = excluded.log_id, updated_at = excluded.updated_at
                    """
            )
            for (type, seq) in update.merged.highest.sorted(by: { $0.key < $1.key }) {
                try upsert.execute(arguments: [update.space, update.deviceID, type, seq, update.logID, now])
            }
        }
    }

    public func clearCheckpoints(space: String, deviceID: String, types: [String]?) async throws {
        try await database.write { db in
            guard let types else {
                try db.cachedStatement(sql: "DELETE FROM stream_checkpoint WHERE space = ? AND device_id = ?")
                    .execute(arguments: [space, deviceID])
                return
            }
            let delete = try db.cachedStatement(sql: "DELETE FROM stream_checkpoint WHERE space = ? AND device_id = ? AND type = ?")
            for type in types { try delete.execute(arguments: [space, deviceID, type]) }
        }
    }

    /// One statement: the page of spaces by the unique index on their names, and for each a
    /// primary-key read of its head mutation and a count over at most
    /// ``SpaceSummary/recentWritesLimit`` of its newest mutations.
    public func listSpaces(after: String?, limit: Int, recentSince: Int64) async throws -> [SpaceSummary] {
        try await database.read { db in
            let rows = try Row.fetchCursor(
                db.cachedStatement(
                    sql: """
                        SELECT s.name, s.log_id, s.head_seq, s.floor_seq,
                            (SELECT m.occurred_at FROM mutation AS m WHERE m.space_id = s.id AND m.seq = s.head_seq),
                            (SELECT count(*) FROM mutation AS m
                                WHERE m.space_id = s.id AND m.seq > max(s.floor_seq, s.head_seq - ?) AND m.occurred_at > ?)
                        FROM space AS s WHERE s.name > ? ORDER BY s.name LIMIT ?
                        """
                ),
                arguments: [SpaceSummary.recentWritesLimit, recentSince, after ?? "", max(0, limit)]
            )
            var summaries: [SpaceSummary] = []
            while let row = try rows.next() {
                summaries.append(
                    SpaceSummary(
                        space: row[0],
                        logID: row[1],
                        headSeq: row[2],
                        floorSeq: row[3],
                        lastWriteMilliseconds: row[4],
                        recentWrites: row[5]
                    )
                )
            }
            return summaries
        }
    }

    public func listCheckpoints(space: String, limit: Int) async throws -> [StoredCheckpoint] {
        try await database.read { db in
            let logID = try Self.fetchSpace(space, in: db)?.logID ?? ""
            let rows = try Row.fetchCursor(
                db.cachedStatement(
                    sql: "SELECT device_id, type, seq, log_id FROM stream_checkpoint WHERE space = ? ORDER BY device_id, type LIMIT ?"
                ),
                arguments: [space, max(0, limit)]
            )
            var listed: [StoredCheckpoint] = []
            while let row = try rows.next() {
                listed.append(StoredCheckpoint(deviceID: row[0], type: row[1], seq: row[2], ofCurrentLog: (row[3] as String) == logID))
            }
            return listed
        }
    }

    public func waitForAppend(space: String, above seq: Int64, timeout: Duration) async -> Bool {
        await watcher.wait(space: space, above: seq, timeout: timeout)
    }

    public func checkHealth() async throws {
        try await database.read { db in
            _ = try Int.fetchOne(db, sql: "SELECT 1")
        }
    }

    public func shutdownWaiters() {
        watcher.shutdown()
    }

    /// A space's row: its id, log, head and floor.
    struct SpaceRow {
        var id: Int64
        var logID: String
        var head: Int64
        var floor: Int64
    }

    static func fetchSpace(_ name: String, in db: Database) throws -> SpaceRow? {
        let statement = try db.cachedStatement(sql: "SELECT id, log_id, head_seq, floor_seq FROM space WHERE name = ?")
        guard let row = try Row.fetchOne(statement, arguments: [name]) else { return nil }
        return SpaceRow(id: row[0], logID: row[1], head: row[2], floor: row[3])
    }

    private static func ensureSpace(_ name: String, at now: Int64, in db: Database) throws -> SpaceRow {
        if let space = try fetchSpace(name, in: db) { return space }
        let logID = UUID().uuidString.lowercased()
        try db.execute(
            sql: "INSERT INTO space (name, log_id, head_seq, created_at) VALUES (?, ?, 0, ?)",
            arguments: [name, logID, now]
        )
        return SpaceRow(id: db.lastInsertedRowID, logID: logID, head: 0, floor: 0)
    }

    /// Rows per multi-row statement: 12 values each stays far below SQLite's limit on bound
    /// values, and the statement shapes stay few (each count is one cached statement).
    static let rowsPerStatement = 100

    /// Appends a batch with a few statements whatever its size: one query finds the triples
    /// already stored, one per entity reads the record heads, ``AppendPlan`` decides, and
    /// multi-row inserts write the mutations and the new heads.
    private static func append(_ batch: AppendBatch, at now: Int64, in db: Database) throws -> AppendResult {
        let space = try ensureSpace(batch.space, at: now, in: db)
        let plan = AppendPlan(
            batch,
            head: space.head,
            stored: try storedSeqs(of: batch, space: space, in: db),
            heads: try recordHeads(of: batch.mutations, space: space.id, in: db)
        )
        try insertRows(
            plan.accepted,
            into: """
                INSERT INTO mutation (space_id, seq, device_id, session_id, client_action_id, entity, entity_key, op, payload,
                    base_seq, client_timestamp, occurred_at) VALUES
                """,
            row: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            db
        ) { binder, row in
            try binder.bind(space.id)
            try binder.bind(row.seq)
            try binder.bind(batch.deviceID)
            try binder.bind(batch.sessionID)
            try binder.bind(row.mutation.clientActionID)
            try binder.bind(row.mutation.entity)
            try binder.bind(row.mutation.entityKey)
            try binder.bind(row.mutation.op.rawValue)
            try binder.bind(blob: row.mutation.payload)
            try binder.bind(row.mutation.baseSeq)
            try binder.bind(row.mutation.clientTimestamp)
            try binder.bind(now)
        }
        try insertRows(
            plan.heads,
            into: "INSERT INTO record_head (space_id, entity, entity_key, seq, device_id, other_seq) VALUES",
            row: "(?, ?, ?, ?, ?, ?)",
            suffix: """
                ON CONFLICT (space_id, entity, entity_key)
                DO UPDATE SET seq = excluded.seq, device_id = excluded.device_id, other_seq = excluded.other_seq
                """,
            db
        ) { binder, row in
            try binder.bind(space.id)
            try binder.bind(row.record.entity)
            try binder.bind(row.record.key)
            try binder.bind(row.head.seq)
            try binder.bind(row.head.deviceID)
            try binder.bind(row.head.otherSeq)
        }
        let head = plan.headSeq
        if head != space.head {
            try db.cachedStatement(sql: "UPDATE space SET head_seq = ? WHERE id = ?").execute(arguments: [head, space.id])
        }
        return AppendResult(outcomes: plan.outcomes, conflicts: plan.conflicts, headSeq: head, logID: space.logID)
    }

    /// The seqs under which the batch's triples are already stored, by client action id.
    /// The ids of a batch are usually one run: a range scan of the unique index finds them;
    /// scattered ids are looked up one by one. Once the space was pruned, the runs of pruned
    /// triples are searched too (never before, so that the push of an unpruned space reads
    /// nothing more).
    private static func storedSeqs(of batch: AppendBatch, space row: SpaceRow, in db: Database) throws -> [Int64: Int64] {
        var stored: [Int64: Int64] = [:]
        let space = row.id
        if row.floor > 0 {
            stored = try prunedSeqs(of: batch, space: space, in: db)
        }
        guard let lowest = batch.mutations.lazy.map(\.clientActionID).min(),
            let highest = batch.mutations.lazy.map(\.clientActionID).max()
        else { return stored }
        let (span, overflow) = highest.subtractingReportingOverflow(lowest)
        if !overflow && span <= Int64(batch.mutations.count) * 2 + 64 {
            let rows = try Row.fetchCursor(
                db.cachedStatement(
                    sql: """
                        SELECT client_action_id, seq FROM mutation
                        WHERE space_id = ? AND device_id = ? AND session_id = ? AND client_action_id BETWEEN ? AND ?
                        """
                ),
                arguments: [space, batch.deviceID, batch.sessionID, lowest, highest]
            )
            while let row = try rows.next() { stored[row[0]] = row[1] }
        } else {
            let find = try db.cachedStatement(
                sql: "SELECT seq FROM mutation WHERE space_id = ? AND device_id = ? AND session_id = ? AND client_action_id = ?"
            )
            for mutation in batch.mutations {
                if let seq = try Int64.fetchOne(find, arguments: [space, batch.deviceID, batch.sessionID, mutation.clientActionID]) {
                    stored[mutation.clientActionID] = seq
                }
            }
        }
        return stored
    }

    /// The current heads of the records the mutations write, by record.
    private static func recordHeads(of mutations: [NewMutation], space: Int64, in db: Database) throws -> [RecordKey: RecordHead] {
        var keysByEntity: [String: Set<String>] = [:]
        for mutation in mutations { keysByEntity[mutation.entity, default: []].insert(mutation.entityKey) }
        var heads: [RecordKey: RecordHead] = [:]
        heads.reserveCapacity(mutations.count)
        for (entity, keys) in keysByEntity {
            let keys = Array(keys)
            for start in stride(from: 0, to: keys.count, by: rowsPerStatement) {
                let chunk = keys[start..<min(start + rowsPerStatement, keys.count)]
                let placeholders = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
                var arguments: [(any DatabaseValueConvertible)?] = [space, entity]
                arguments.append(contentsOf: chunk.map { $0 as (any DatabaseValueConvertible)? })
                let rows = try Row.fetchCursor(
                    db.cachedStatement(
                        sql: """
                            SELECT entity_key, seq, device_id, other_seq FROM record_head
                            WHERE space_id = ? AND entity = ? AND entity_key IN (\(placeholders))
                            """
                    ),
                    arguments: StatementArguments(arguments)
                )
                while let row = try rows.next() {
                    heads[RecordKey(entity: entity, key: row[0])] = RecordHead(seq: row[1], deviceID: row[2], otherSeq: row[3])
                }
            }
        }
        return heads
    }

    /// Inserts `rows` with `INSERT … VALUES (row), (row), …` statements of at most
    /// ``rowsPerStatement`` rows, each row's parameters bound by `bind`.
    static func insertRows<Row>(
        _ rows: [Row],
        into insert: String,
        row: String,
        suffix: String = "",
        _ db: Database,
        bind: (inout StatementBinder, Row) throws -> Void
    ) throws {
        var start = 0
        while start < rows.count {
            let count = min(rowsPerStatement, rows.count - start)
            let statement = try db.cachedStatement(
                sql: "\(insert) \(Array(repeating: row, count: count).joined(separator: ", ")) \(suffix)"
            )
            var binder = StatementBinder(statement)
            for index in start..<(start + count) { try bind(&binder, rows[index]) }
            try statement.execute()
            start += count
        }
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
        return try read(space, named: name, since: since, limit: limit, excludingDevice: excludingDevice, in: db)
    }

    private static func read(
        _ space: SpaceRow,
        named name: String,
        since: Int64,
        limit: Int,
        excludingDevice: String?,
        in db: Database
    ) throws -> LogPage {
        guard since <= space.head else {
            throw FerryError(.cursorAhead, "since_seq \(since) is above the head of space '\(name)' (\(space.head))")
        }
        guard since >= space.floor else {
            throw FerryError.historyPruned(space: name, since: since, floorSeq: space.floor)
        }
        let columns = mutationColumns
        let statement: Statement
        let arguments: StatementArguments
        if let excludingDevice {
            statement = try db.cachedStatement(sql: "\(columns) WHERE space_id = ? AND seq > ? AND device_id <> ? ORDER BY seq LIMIT ?")
            arguments = [space.id, since, excludingDevice, limit]
        } else {
            statement = try db.cachedStatement(sql: "\(columns) WHERE space_id = ? AND seq > ? ORDER BY seq LIMIT ?")
            arguments = [space.id, since, limit]
        }
        let mutations = try readMutations(statement, arguments: arguments, limit: limit)
        return LogPage(mutations: mutations, limit: limit, headSeq: space.head, logID: space.logID, floorSeq: space.floor)
    }

    /// The columns every read of mutations selects, in the order ``readMutations(_:arguments:limit:)`` decodes.
    private static let mutationColumns = """
        SELECT seq, device_id, session_id, client_action_id, entity, entity_key, op, payload,
            base_seq, client_timestamp, occurred_at FROM mutation
        """

    /// Runs a statement selecting ``mutationColumns`` and decodes its rows.
    private static func readMutations(_ statement: Statement, arguments: StatementArguments, limit: Int) throws -> [StoredMutation] {
        var rows = try StatementRows(statement, arguments: arguments)
        var mutations: [StoredMutation] = []
        mutations.reserveCapacity(min(limit, 1024))
        while try rows.next() {
            mutations.append(
                StoredMutation(
                    seq: rows.int64(0),
                    deviceID: rows.string(1),
                    sessionID: rows.string(2),
                    mutation: NewMutation(
                        clientActionID: rows.int64(3),
                        entity: rows.string(4),
                        entityKey: rows.string(5),
                        op: MutationOp(rawValue: rows.string(6)),
                        payload: rows.bytes(7),
                        baseSeq: rows.optionalInt64(8),
                        clientTimestamp: rows.optionalString(9)
                    ),
                    occurredAtMilliseconds: rows.int64(10)
                )
            )
        }
        return mutations
    }
}
