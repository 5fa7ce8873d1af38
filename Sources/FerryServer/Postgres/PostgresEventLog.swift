import FerryCore
import FerryLog
import Foundation
import Logging
import PostgresNIO

/// The ``EventLog`` shared by several servers, in PostgreSQL.
///
/// **Dense, commit-ordered seqs across servers.** A push's transaction first locks its
/// space's row (`SELECT … FOR UPDATE`), reads the head, stores its mutations under the next
/// seqs, moves the head and commits. Pushes to one space therefore commit one after the
/// other in seq order, whichever server runs them: a transaction holding seqs 11–20 cannot
/// commit before the one holding 1–10 has, because it could not read the head until then.
/// Readers read the head and then only seqs at or below it, so once seq N is visible every
/// seq below it is. (A `BIGSERIAL` would hand out numbers at insert time, and a later number
/// could commit first: a reader would advance past the gap and miss the earlier one for good.)
/// Pushes to different spaces do not wait for each other.
///
/// **Batches.** Each push is a handful of statements whatever its size: one query finds
/// stored duplicates, one reads the record heads for conflict reports, one inserts every
/// mutation from arrays (`unnest`), one writes the record heads, one moves the head and
/// announces it with `pg_notify`, which PostgreSQL delivers to every listening server at
/// commit.
///
/// **Retention.** Once a space was pruned (its `floor_seq` is above 0), a read below the
/// floor throws `history_pruned`, and a push looks for its duplicates among the runs of
/// pruned triples too (see `PostgresEventLog+Snapshot.swift`).
public final class PostgresEventLog: EventLog {
    let database: PostgresBackend
    let watcher: CommitWatcher
    private let clock: WallClock

    /// Creates the log on a database whose schema is migrated.
    /// - Parameter watcher: The watcher the database's commit listener also publishes to.
    public init(database: PostgresBackend, watcher: CommitWatcher, clock: WallClock = .system) {
        self.database = database
        self.watcher = watcher
        self.clock = clock
    }

    /// A space's row: its id, log, head and floor.
    struct SpaceRow: Sendable {
        var id: Int64
        var logID: String
        var head: Int64
        var floor: Int64
    }

    /// The space's row, locked until the transaction ends when `lock`; `nil` if it has no log.
    static func fetchSpace(
        _ name: String,
        lock: Bool,
        _ connection: PostgresConnection,
        _ logger: Logger
    ) async throws
        -> SpaceRow?
    {
        let query: PostgresQuery =
            lock
            ? "SELECT id, log_id, head_seq, floor_seq FROM space WHERE name = \(name) FOR UPDATE"
            : "SELECT id, log_id, head_seq, floor_seq FROM space WHERE name = \(name)"
        // Read to the end before answering, so that the connection goes on (or back to the
        // pool) with no query in flight, rather than leaving the row sequence early.
        let rows = try await connection.query(query, logger: logger).collect()
        guard let row = rows.first else { return nil }
        let (id, log, head, floor) = try row.decode((Int64, String, Int64, Int64).self)
        return SpaceRow(id: id, logID: log, head: head, floor: floor)
    }

    /// The space's row, creating its log first if it has none; locked when `lock`. The first
    /// request naming a space creates its log, so its log_id is fixed from the first time a
    /// client sees it.
    private static func space(
        _ name: String,
        lock: Bool,
        at now: Int64,
        _ connection: PostgresConnection,
        _ logger: Logger
    ) async throws -> SpaceRow {
        if let space = try await fetchSpace(name, lock: lock, connection, logger) { return space }
        let logID = UUID().uuidString.lowercased()
        try await connection.query(
            "INSERT INTO space (name, log_id, head_seq, created_at) VALUES (\(name), \(logID), 0, \(now)) ON CONFLICT (name) DO NOTHING",
            logger: logger
        )
        guard let space = try await fetchSpace(name, lock: lock, connection, logger) else {
            throw FerryError(.internal, "space '\(name)' could not be created")
        }
        return space
    }

    public func append(_ batch: AppendBatch) async throws -> AppendResult {
        let now = clock.nowMilliseconds()
        let logger = database.logger
        let result = try await database.transaction { connection in
            let space = try await Self.space(batch.space, lock: true, at: now, connection, logger)
            let ids = batch.mutations.map(\.clientActionID)

            // Triples already stored: one probe of the dedup index per id, whatever the
            // planner's statistics say. The lookup names no space (rows of other spaces are
            // left out here), so the log's primary key is no candidate (see migration 2); it
            // runs once per id (LATERAL, kept apart by OFFSET 0), so the id is part of the
            // probe rather than a filter over every row of the session.
            var stored: [Int64: Int64] = [:]
            if !ids.isEmpty {
                for try await (id, seq, spaceID) in try await connection.query(
                    """
                    SELECT i.id, m.seq, m.space_id FROM unnest(\(ids)::bigint[]) AS i(id)
                    CROSS JOIN LATERAL (
                        SELECT seq, space_id FROM mutation
                        WHERE device_id = \(batch.deviceID) AND session_id = \(batch.sessionID) AND client_action_id = i.id
                        OFFSET 0
                    ) AS m
                    """,
                    logger: logger
                ).decode((Int64, Int64, Int64).self) where spaceID == space.id {
                    stored[id] = seq
                }
            }
            // Once the space was pruned, the runs of pruned triples too (never before, so that
            // the push of an unpruned space reads nothing more). The space's row is locked, so
            // no prune commits meanwhile.
            if space.floor > 0 && !ids.isEmpty {
                for (id, seq) in try await Self.prunedSeqs(of: batch, ids: ids, space: space.id, connection, logger) {
                    stored[id] = seq
                }
            }

            // Record heads of the records the batch touches, each looked up by its primary key
            // (a plain join let the planner scan every head of the space once per batch).
            var heads: [RecordKey: RecordHead] = [:]
            let entities = batch.mutations.map(\.entity)
            let keys = batch.mutations.map(\.entityKey)
            if !entities.isEmpty {
                for try await (entity, key, seq, device, other) in try await connection.query(
                    """
                    SELECT k.entity, k.entity_key, h.seq, h.device_id, h.other_seq
                    FROM unnest(\(entities)::text[], \(keys)::text[]) AS k(entity, entity_key)
                    CROSS JOIN LATERAL (
                        SELECT seq, device_id, other_seq FROM record_head
                        WHERE space_id = \(space.id) AND entity = k.entity AND entity_key = k.entity_key
                        LIMIT 1
                    ) AS h
                    """,
                    logger: logger
                ).decode((String, String, Int64, String, Int64).self) {
                    heads[RecordKey(entity: entity, key: key)] = RecordHead(seq: seq, deviceID: device, otherSeq: other)
                }
            }

            let plan = AppendPlan(batch, head: space.head, stored: stored, heads: heads)
            let head = plan.headSeq
            var rows = MutationColumns()
            for (seq, mutation) in plan.accepted { rows.append(mutation, seq: seq) }

            if !rows.seqs.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO mutation (space_id, seq, device_id, session_id, client_action_id, entity, entity_key, op,
                        payload, base_seq, client_timestamp, occurred_at)
                    SELECT \(space.id), m.seq, \(batch.deviceID), \(batch.sessionID), m.id, m.entity, m.entity_key, m.op,
                        CASE WHEN m.has_payload THEN m.payload END, NULLIF(m.base_seq, -1), NULLIF(m.ts, ''), \(now)
                    FROM unnest(\(rows.seqs)::bigint[], \(rows.ids)::bigint[], \(rows.entities)::text[], \(rows.keys)::text[],
                        \(rows.ops)::text[], \(rows.payloads)::text[], \(rows.hasPayload)::bool[], \(rows.baseSeqs)::bigint[],
                        \(rows.timestamps)::text[])
                        AS m(seq, id, entity, entity_key, op, payload, has_payload, base_seq, ts)
                    """,
                    logger: logger
                )
                let headEntities = plan.heads.map(\.record.entity)
                let headKeys = plan.heads.map(\.record.key)
                let headSeqs = plan.heads.map(\.head.seq)
                let headDevices = plan.heads.map(\.head.deviceID)
                let headOthers = plan.heads.map(\.head.otherSeq)
                try await connection.query(
                    """
                    INSERT INTO record_head (space_id, entity, entity_key, seq, device_id, other_seq)
                    SELECT \(space.id), h.entity, h.entity_key, h.seq, h.device_id, h.other_seq
                    FROM unnest(\(headEntities)::text[], \(headKeys)::text[], \(headSeqs)::bigint[], \(headDevices)::text[],
                        \(headOthers)::bigint[]) AS h(entity, entity_key, seq, device_id, other_seq)
                    ON CONFLICT (space_id, entity, entity_key) DO UPDATE SET seq = excluded.seq,
                        device_id = excluded.device_id, other_seq = excluded.other_seq
                    """,
                    logger: logger
                )
                let notice = "\(head) \(batch.space)"
                try await connection.query(
                    "UPDATE space SET head_seq = \(head) WHERE id = \(space.id) RETURNING pg_notify(\(PostgresBackend.commitChannel), \(notice))",
                    logger: logger
                )
            }
            return AppendResult(outcomes: plan.outcomes, conflicts: plan.conflicts, headSeq: head, logID: space.logID)
        }
        watcher.publish(space: batch.space, head: result.headSeq)
        return result
    }

    public func read(space name: String, since: Int64, limit: Int, excludingDevice: String?) async throws -> LogPage {
        let now = clock.nowMilliseconds()
        let logger = database.logger
        return try await database.perform { connection in
            let space = try await Self.space(name, lock: false, at: now, connection, logger)
            guard since <= space.head else {
                throw FerryError(.cursorAhead, "since_seq \(since) is above the head of space '\(name)' (\(space.head))")
            }
            guard since >= space.floor else {
                throw FerryError.historyPruned(space: name, since: since, floorSeq: space.floor)
            }
            // Only seqs at or below the head read above: every one of them is committed. The
            // floor is read again in the same statement as the mutations: a prune that
            // committed in between would otherwise leave a page that skips what it deleted.
            let rows: PostgresRowSequence
            if let excludingDevice {
                rows = try await connection.query(
                    """
                    SELECT s.floor_seq, m.seq, m.device_id, m.session_id, m.client_action_id, m.entity, m.entity_key, m.op,
                        m.payload, m.base_seq, m.client_timestamp, m.occurred_at
                    FROM space AS s LEFT JOIN LATERAL (
                        SELECT * FROM mutation
                        WHERE space_id = s.id AND seq > \(since) AND seq <= \(space.head) AND device_id <> \(excludingDevice)
                        ORDER BY seq LIMIT \(limit)
                    ) AS m ON true
                    WHERE s.id = \(space.id)
                    """,
                    logger: logger
                )
            } else {
                rows = try await connection.query(
                    """
                    SELECT s.floor_seq, m.seq, m.device_id, m.session_id, m.client_action_id, m.entity, m.entity_key, m.op,
                        m.payload, m.base_seq, m.client_timestamp, m.occurred_at
                    FROM space AS s LEFT JOIN LATERAL (
                        SELECT * FROM mutation
                        WHERE space_id = s.id AND seq > \(since) AND seq <= \(space.head)
                        ORDER BY seq LIMIT \(limit)
                    ) AS m ON true
                    WHERE s.id = \(space.id)
                    """,
                    logger: logger
                )
            }
            var floor = space.floor
            var mutations: [StoredMutation] = []
            for try await row in rows {
                let (rowFloor, seq, device, session, id, entity, key, op, payload, base, timestamp, occurred) = try row.decode(
                    (Int64, Int64?, String?, String?, Int64?, String?, String?, String?, String?, Int64?, String?, Int64?).self
                )
                floor = rowFloor
                guard let seq, let device, let session, let id, let entity, let key, let op, let occurred else { continue }
                mutations.append(Self.storedMutation(seq, device, session, id, entity, key, op, payload, base, timestamp, occurred))
            }
            guard since >= floor else {
                throw FerryError.historyPruned(space: name, since: since, floorSeq: floor)
            }
            return LogPage(mutations: mutations, limit: limit, headSeq: space.head, logID: space.logID, floorSeq: floor)
        }
    }

    public func readStream(space name: String, types: [String], after: Int64, through: Int64, limit: Int) async throws -> [StoredMutation] {
        let logger = database.logger
        return try await database.perform { connection in
            guard !types.isEmpty, let space = try await Self.fetchSpace(name, lock: false, connection, logger) else { return [] }
            let rows = try await connection.query(
                """
                SELECT seq, device_id, session_id, client_action_id, entity, entity_key, op, payload, base_seq,
                    client_timestamp, occurred_at FROM mutation
                WHERE space_id = \(space.id) AND seq > \(after) AND seq <= \(min(through, space.head))
                    AND entity = ANY(\(types)::text[])
                ORDER BY seq LIMIT \(limit)
                """,
                logger: logger
            )
            return try await Self.decodeMutations(rows)
        }
    }

    public func streamPosition(space name: String, deviceID: String) async throws -> StreamPosition {
        let logger = database.logger
        return try await database.perform { connection in
            let space = try await Self.fetchSpace(name, lock: false, connection, logger) ?? SpaceRow(id: 0, logID: "", head: 0, floor: 0)
            var checkpoints: [String: Int64] = [:]
            var ofAnotherLog = false
            for try await (type, seq, logID) in try await connection.query(
                "SELECT type, seq, log_id FROM stream_checkpoint WHERE space = \(name) AND device_id = \(deviceID)",
                logger: logger
            ).decode((String, Int64, String).self) {
                checkpoints[type] = seq
                if logID != space.logID { ofAnotherLog = true }
            }
            return StreamPosition(
                headSeq: space.head,
                logID: space.logID,
                floorSeq: space.floor,
                checkpoints: checkpoints,
                checkpointsOfAnotherLog: ofAnotherLog
            )
        }
    }

    public func storeCheckpoints(_ update: CheckpointUpdate) async throws {
        let now = clock.nowMilliseconds()
        let logger = database.logger
        let highest = update.merged.highest.sorted { $0.key < $1.key }
        let types = highest.map(\.key)
        let seqs = highest.map(\.value)
        try await database.transaction { connection in
            if update.merged.reset {
                try await connection.query(
                    "DELETE FROM stream_checkpoint WHERE space = \(update.space) AND device_id = \(update.deviceID)",
                    logger: logger
                )
            }
            guard !types.isEmpty else { return }
            try await connection.query(
                """
                INSERT INTO stream_checkpoint (space, device_id, type, seq, log_id, updated_at)
                SELECT \(update.space), \(update.deviceID), a.type, a.seq, \(update.logID), \(now)
                FROM unnest(\(types)::text[], \(seqs)::bigint[]) AS a(type, seq)
                ON CONFLICT (space, device_id, type) DO UPDATE SET
                    seq = CASE WHEN stream_checkpoint.log_id = excluded.log_id
                        THEN greatest(stream_checkpoint.seq, excluded.seq) ELSE excluded.seq END,
                    log_id = excluded.log_id, updated_at = excluded.updated_at
                """,
                logger: logger
            )
        }
    }

    /// One query: the page of spaces by the unique index on their names, and for each a
    /// primary-key read of its head mutation and a count over at most
    /// ``SpaceSummary/recentWritesLimit`` of its newest mutations. Names compare as bytes
    /// (`COLLATE "C"`), as the other stores order them.
    public func listSpaces(after: String?, limit: Int, recentSince: Int64) async throws -> [SpaceSummary] {
        let logger = database.logger
        let after = after ?? ""
        let limit = Int64(max(0, limit))
        let window = SpaceSummary.recentWritesLimit
        return try await database.perform { connection in
            var summaries: [SpaceSummary] = []
            for try await (name, logID, head, floor, last, recent) in try await connection.query(
                """
                SELECT s.name, s.log_id, s.head_seq, s.floor_seq,
                    (SELECT m.occurred_at FROM mutation AS m WHERE m.space_id = s.id AND m.seq = s.head_seq),
                    (SELECT count(*) FROM mutation AS m
                        WHERE m.space_id = s.id AND m.seq > greatest(s.floor_seq, s.head_seq - \(window))
                        AND m.occurred_at > \(recentSince))
                FROM space AS s WHERE s.name COLLATE "C" > \(after) ORDER BY s.name COLLATE "C" LIMIT \(limit)
                """,
                logger: logger
            ).decode((String, String, Int64, Int64, Int64?, Int64).self) {
                summaries.append(
                    SpaceSummary(
                        space: name,
                        logID: logID,
                        headSeq: head,
                        floorSeq: floor,
                        lastWriteMilliseconds: last,
                        recentWrites: recent
                    )
                )
            }
            return summaries
        }
    }

    public func listCheckpoints(space name: String, limit: Int) async throws -> [StoredCheckpoint] {
        let logger = database.logger
        let limit = Int64(max(0, limit))
        return try await database.perform { connection in
            let logID = try await Self.fetchSpace(name, lock: false, connection, logger)?.logID ?? ""
            var listed: [StoredCheckpoint] = []
            for try await (device, type, seq, stored) in try await connection.query(
                """
                SELECT device_id, type, seq, log_id FROM stream_checkpoint WHERE space = \(name)
                ORDER BY device_id COLLATE "C", type COLLATE "C" LIMIT \(limit)
                """,
                logger: logger
            ).decode((String, String, Int64, String).self) {
                listed.append(StoredCheckpoint(deviceID: device, type: type, seq: seq, ofCurrentLog: stored == logID))
            }
            return listed
        }
    }

    public func clearCheckpoints(space: String, deviceID: String, types: [String]?) async throws {
        let logger = database.logger
        _ = try await database.perform { connection in
            if let types {
                try await connection.query(
                    "DELETE FROM stream_checkpoint WHERE space = \(space) AND device_id = \(deviceID) AND type = ANY(\(types)::text[])",
                    logger: logger
                )
            } else {
                try await connection.query(
                    "DELETE FROM stream_checkpoint WHERE space = \(space) AND device_id = \(deviceID)",
                    logger: logger
                )
            }
        }
    }

    /// Decodes rows of the columns `seq, device_id, session_id, client_action_id, entity,
    /// entity_key, op, payload, base_seq, client_timestamp, occurred_at`.

    /// A stored mutation from the columns every read of mutations selects, in their order.
    private static func storedMutation(
        _ seq: Int64,
        _ device: String,
        _ session: String,
        _ id: Int64,
        _ entity: String,
        _ key: String,
        _ op: String,
        _ payload: String?,
        _ base: Int64?,
        _ timestamp: String?,
        _ occurred: Int64
    ) -> StoredMutation {
        StoredMutation(
            seq: seq,
            deviceID: device,
            sessionID: session,
            mutation: NewMutation(
                clientActionID: id,
                entity: entity,
                entityKey: key,
                op: MutationOp(rawValue: op),
                payload: payload.map { Array($0.utf8) },
                baseSeq: base,
                clientTimestamp: timestamp
            ),
            occurredAtMilliseconds: occurred
        )
    }
    private static func decodeMutations(_ rows: PostgresRowSequence) async throws -> [StoredMutation] {
        var mutations: [StoredMutation] = []
        for try await row in rows {
            let (seq, device, session, id, entity, key, op, payload, base, timestamp, occurred) = try row.decode(
                (Int64, String, String, Int64, String, String, String, String?, Int64?, String?, Int64).self
            )
            mutations.append(Self.storedMutation(seq, device, session, id, entity, key, op, payload, base, timestamp, occurred))
        }
        return mutations
    }

    public func waitForAppend(space: String, above seq: Int64, timeout: Duration) async -> Bool {
        await watcher.wait(space: space, above: seq, timeout: timeout)
    }

    public func checkHealth() async throws {
        // A health check answers quickly, also while the database is down.
        _ = try await database.perform(timeout: min(.seconds(2), database.operationTimeout)) { connection in
            try await connection.query("SELECT 1", logger: self.database.logger)
        }
    }

    public func shutdownWaiters() {
        watcher.shutdown()
    }
}

/// The columns of a batch's new mutations, as arrays for one `unnest` insert. Absent
/// optional values travel as sentinels (`-1`, `""`, `has_payload = false`) because
/// PostgreSQL arrays bound from Swift cannot hold NULLs.
private struct MutationColumns {
    var seqs: [Int64] = []
    var ids: [Int64] = []
    var entities: [String] = []
    var keys: [String] = []
    var ops: [String] = []
    var payloads: [String] = []
    var hasPayload: [Bool] = []
    var baseSeqs: [Int64] = []
    var timestamps: [String] = []

    mutating func append(_ mutation: NewMutation, seq: Int64) {
        seqs.append(seq)
        ids.append(mutation.clientActionID)
        entities.append(mutation.entity)
        keys.append(mutation.entityKey)
        ops.append(mutation.op.rawValue)
        payloads.append(mutation.payload.map { String(decoding: $0, as: UTF8.self) } ?? "")
        hasPayload.append(mutation.payload != nil)
        baseSeqs.append(mutation.baseSeq ?? -1)
        timestamps.append(mutation.clientTimestamp ?? "")
    }
}
