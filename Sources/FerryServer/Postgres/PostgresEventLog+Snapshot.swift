import FerryCore
import FerryLog
import Logging
import NIOCore
import PostgresNIO

/// Snapshots and retention in PostgreSQL (schema version 4), in the tables of the SQLite
/// store (see `SQLiteEventLog+Snapshot.swift`): `space.state_seq` and `space.floor_seq`,
/// `snapshot_state` (entity and key `COLLATE "C"`: its primary key is in snapshot order, so a
/// scan is a keyset range of it), `snapshot_chunk` (bodies as `bytea`, once per space and id),
/// `snapshot_manifest` with `snapshot_manifest_chunk`, and `pruned_triple_run` (client
/// action ids first…last of a device and session were stored under seqs
/// `first_seq + (id − first)`).
///
/// **Locks.** Pushes lock their space's row; the writes here take it only for the short
/// statement that commits their decision, so a large state write or prune does not hold
/// pushes back for long:
/// - ``updateState(space:from:to:upserts:deletes:)`` writes first, then moves the state seq
///   with `UPDATE … WHERE state_seq = from`; a concurrent builder waits on the rows written
///   and then finds the state seq moved, and its transaction is rolled back.
/// - ``prune(space:through:dryRun:)`` queues on an advisory lock per space (one prune of a
///   space at a time), deletes, and sets the floor last: a push that locked the row before
///   still sees the mutations, one that locks it after sees the floor and the runs.
extension PostgresEventLog: SnapshotStore {
    public func snapshotStatus(space: String) async throws -> SnapshotStatus {
        let logger = database.logger
        return try await database.perform { connection in
            let rows = try await connection.query(
                """
                SELECT s.head_seq, s.log_id, s.floor_seq, s.state_seq,
                    coalesce((SELECT max(m.snapshot_seq) FROM snapshot_manifest AS m WHERE m.space_id = s.id), 0)
                FROM space AS s WHERE s.name = \(space)
                """,
                logger: logger
            ).collect()
            guard let row = rows.first else { return SnapshotStatus(headSeq: 0, logID: "", floorSeq: 0, stateSeq: 0, snapshotSeq: 0) }
            let (head, logID, floor, state, snapshot) = try row.decode((Int64, String, Int64, Int64, Int64).self)
            return SnapshotStatus(headSeq: head, logID: logID, floorSeq: floor, stateSeq: state, snapshotSeq: snapshot)
        }
    }

    public func stateRecords(space: String, keys: [RecordKey]) async throws -> [RecordKey: StateRecord] {
        guard !keys.isEmpty else { return [:] }
        let logger = database.logger
        let entities = keys.map(\.entity)
        let entityKeys = keys.map(\.key)
        return try await database.perform { connection in
            guard let row = try await Self.fetchSpace(space, lock: false, connection, logger) else { return [:] }
            var records: [RecordKey: StateRecord] = [:]
            records.reserveCapacity(keys.count)
            // Each key looked up by the primary key, as the record heads of a push are.
            for try await (entity, key, payload, seq) in try await connection.query(
                """
                SELECT k.entity, k.entity_key, r.payload, r.seq
                FROM unnest(\(entities)::text[], \(entityKeys)::text[]) AS k(entity, entity_key)
                CROSS JOIN LATERAL (
                    SELECT payload, seq FROM snapshot_state
                    WHERE space_id = \(row.id) AND entity = k.entity AND entity_key = k.entity_key
                    LIMIT 1
                ) AS r
                """,
                logger: logger
            ).decode((String, String, ByteBuffer, Int64).self) {
                let record = StateRecord(entity: entity, entityKey: key, payload: Array(payload.readableBytesView), seq: seq)
                records[record.key] = record
            }
            return records
        }
    }

    /// Deletes are removed first, then upserts written (a key in both ends up upserted, as
    /// in the memory store); a key upserted twice keeps its last record. Each is one
    /// statement over arrays.
    /// - Throws: ``FerryCore/FerryError`` `conflict` when the state seq is not `from`,
    ///   `notFound` when the space has no log.
    public func updateState(space: String, from: Int64, to: Int64, upserts: [StateRecord], deletes: [RecordKey]) async throws {
        let logger = database.logger
        var rows = StateColumns()
        rows.reserveCapacity(upserts.count)
        var position: [RecordKey: Int] = [:]
        position.reserveCapacity(upserts.count)
        for record in upserts {
            // One statement may not upsert a row twice: the last record of a key wins.
            if let index = position[record.key] {
                rows.replace(at: index, with: record)
            } else {
                position[record.key] = rows.seqs.count
                rows.append(record)
            }
        }
        let columns = rows
        let deleteEntities = deletes.map(\.entity)
        let deleteKeys = deletes.map(\.key)
        try await database.transaction { connection in
            let id = try await Self.stateSpace(space, expecting: from, connection, logger)
            if !deleteEntities.isEmpty {
                try await connection.query(
                    """
                    DELETE FROM snapshot_state AS st USING unnest(\(deleteEntities)::text[], \(deleteKeys)::text[]) AS d(entity, entity_key)
                    WHERE st.space_id = \(id) AND st.entity = d.entity AND st.entity_key = d.entity_key
                    """,
                    logger: logger
                )
            }
            if !columns.seqs.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO snapshot_state (space_id, entity, entity_key, payload, seq)
                    SELECT \(id), r.entity, r.entity_key, r.payload, r.seq
                    FROM unnest(\(columns.entities)::text[], \(columns.keys)::text[], \(columns.payloads)::bytea[], \(columns.seqs)::bigint[])
                        AS r(entity, entity_key, payload, seq)
                    ON CONFLICT (space_id, entity, entity_key) DO UPDATE SET payload = excluded.payload, seq = excluded.seq
                    """,
                    logger: logger
                )
            }
            let moved = try await connection.query(
                "UPDATE space SET state_seq = \(to) WHERE id = \(id) AND state_seq = \(from) RETURNING id",
                logger: logger
            ).collect()
            guard !moved.isEmpty else {
                throw FerryError(.conflict, "the state of space '\(space)' moved from \(from) meanwhile: another builder moved it")
            }
        }
    }

    public func scanState(space: String, after: RecordKey?, limit: Int) async throws -> [StateRecord] {
        guard limit > 0 else { return [] }
        let logger = database.logger
        return try await database.perform { connection in
            guard let row = try await Self.fetchSpace(space, lock: false, connection, logger) else { return [] }
            let rows: PostgresRowSequence
            if let after {
                // The space's equality and a row comparison of the key: the index scan starts
                // at `after` (a row comparison that also names the space starts at the
                // space's first key and filters up to `after`).
                rows = try await connection.query(
                    """
                    SELECT entity, entity_key, payload, seq FROM snapshot_state
                    WHERE space_id = \(row.id) AND (entity, entity_key) > (\(after.entity), \(after.key))
                    ORDER BY entity, entity_key LIMIT \(limit)
                    """,
                    logger: logger
                )
            } else {
                rows = try await connection.query(
                    """
                    SELECT entity, entity_key, payload, seq FROM snapshot_state
                    WHERE space_id = \(row.id) ORDER BY entity, entity_key LIMIT \(limit)
                    """,
                    logger: logger
                )
            }
            var records: [StateRecord] = []
            records.reserveCapacity(min(limit, 10_000))
            for try await (entity, key, payload, seq) in rows.decode((String, String, ByteBuffer, Int64).self) {
                records.append(StateRecord(entity: entity, entityKey: key, payload: Array(payload.readableBytesView), seq: seq))
            }
            return records
        }
    }

    /// A chunk id is kept in lowercase. Storing a chunk again only moves its `stored_at`
    /// (see ``collectSnapshots(supersededBefore:)``).
    /// - Throws: ``FerryCore/FerryError`` `notFound` when the space has no log.
    public func storeChunk(space: String, id: String, records: Int, body: [UInt8], at milliseconds: Int64) async throws -> Int64 {
        let logger = database.logger
        let id = id.lowercased()
        let bytes = ByteBuffer(bytes: body)
        return try await database.perform { connection in
            let rows = try await connection.query(
                """
                INSERT INTO snapshot_chunk (space_id, id, records, bytes, body, created_at, stored_at)
                SELECT s.id, \(id), \(Int64(records)), \(Int64(body.count)), \(bytes), \(milliseconds), \(milliseconds)
                FROM space AS s WHERE s.name = \(space)
                ON CONFLICT (space_id, id) DO UPDATE SET stored_at = greatest(snapshot_chunk.stored_at, excluded.stored_at)
                RETURNING created_at
                """,
                logger: logger
            ).collect()
            guard let row = rows.first else { throw FerryError(.notFound, "space '\(space)' has no log") }
            return try row.decode(Int64.self)
        }
    }

    /// Also refuses (answers `false`) a manifest whose `snapshotSeq` is not above the newest
    /// one's, and one naming a chunk the space does not hold.
    public func publishManifest(space: String, manifest: SnapshotManifest, at milliseconds: Int64) async throws -> Bool {
        let logger = database.logger
        let ids = manifest.chunks.map { $0.id.lowercased() }
        return try await database.transaction { connection in
            let rows = try await connection.query(
                "SELECT id, log_id, state_seq FROM space WHERE name = \(space) FOR UPDATE",
                logger: logger
            ).collect()
            guard let row = rows.first else { return false }
            let (id, logID, stateSeq) = try row.decode((Int64, String, Int64).self)
            guard logID == manifest.logID, stateSeq == manifest.snapshotSeq,
                manifest.snapshotSeq > (try await Self.newestSnapshotSeq(space: id, connection, logger))
            else { return false }
            // The chunks are locked until the manifest that names them is committed, so a
            // collection cannot take them away meanwhile.
            var held = Set<String>()
            for try await chunk in try await connection.query(
                "SELECT id FROM snapshot_chunk WHERE space_id = \(id) AND id = ANY(\(ids)::text[]) FOR SHARE",
                logger: logger
            ).decode(String.self) {
                held.insert(chunk)
            }
            guard held == Set(ids) else { return false }
            try await connection.query(
                "UPDATE snapshot_manifest SET superseded_at = \(milliseconds) WHERE space_id = \(id) AND superseded_at IS NULL",
                logger: logger
            )
            try await connection.query(
                """
                INSERT INTO snapshot_manifest (space_id, snapshot_seq, version, log_id, created_at)
                VALUES (\(id), \(manifest.snapshotSeq), \(manifest.version), \(manifest.logID), \(milliseconds))
                """,
                logger: logger
            )
            if !ids.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO snapshot_manifest_chunk (space_id, snapshot_seq, position, chunk_id)
                    SELECT \(id), \(manifest.snapshotSeq), c.position - 1, c.id
                    FROM unnest(\(ids)::text[]) WITH ORDINALITY AS c(id, position)
                    """,
                    logger: logger
                )
            }
            return true
        }
    }

    public func newestManifest(space: String) async throws -> SnapshotManifest? {
        let logger = database.logger
        return try await database.perform { connection in
            let rows = try await connection.query(
                """
                SELECT s.id, s.floor_seq, m.snapshot_seq, m.version, m.log_id FROM space AS s
                JOIN snapshot_manifest AS m ON m.space_id = s.id
                WHERE s.name = \(space) ORDER BY m.snapshot_seq DESC LIMIT 1
                """,
                logger: logger
            ).collect()
            guard let row = rows.first else { return nil }
            let (id, floor, snapshotSeq, version, logID) = try row.decode((Int64, Int64, Int64, Int, String).self)
            var chunks: [SnapshotManifest.Chunk] = []
            for try await (chunk, records, bytes, created) in try await connection.query(
                """
                SELECT c.id, c.records, c.bytes, c.created_at FROM snapshot_manifest_chunk AS mc
                JOIN snapshot_chunk AS c ON c.space_id = mc.space_id AND c.id = mc.chunk_id
                WHERE mc.space_id = \(id) AND mc.snapshot_seq = \(snapshotSeq) ORDER BY mc.position
                """,
                logger: logger
            ).decode((String, Int64, Int64, Int64).self) {
                chunks.append(SnapshotManifest.Chunk(id: chunk, records: Int(records), bytes: Int(bytes), createdAtMilliseconds: created))
            }
            return SnapshotManifest(version: version, logID: logID, snapshotSeq: snapshotSeq, floorSeq: floor, chunks: chunks)
        }
    }

    public func chunkBody(id: String, spaces: [String]) async throws -> [UInt8]? {
        guard !spaces.isEmpty else { return nil }
        let logger = database.logger
        let id = id.lowercased()
        return try await database.perform { connection in
            let rows = try await connection.query(
                """
                SELECT c.body FROM space AS s JOIN snapshot_chunk AS c ON c.space_id = s.id AND c.id = \(id)
                WHERE s.name = ANY(\(spaces)::text[]) AND EXISTS (
                    SELECT 1 FROM snapshot_manifest_chunk AS mc WHERE mc.space_id = c.space_id AND mc.chunk_id = c.id
                )
                LIMIT 1
                """,
                logger: logger
            ).collect()
            guard let row = rows.first else { return nil }
            return Array(try row.decode(ByteBuffer.self).readableBytesView)
        }
    }

    /// A chunk no manifest names is deleted only once it was last stored before
    /// `milliseconds` too: a builder stores its chunks before it publishes the manifest that
    /// names them, and a collection in between must not take them away.
    public func collectSnapshots(supersededBefore milliseconds: Int64) async throws -> SnapshotCollection {
        let logger = database.logger
        return try await database.transaction { connection in
            try await connection.query(
                """
                DELETE FROM snapshot_manifest_chunk AS mc USING snapshot_manifest AS m
                WHERE m.space_id = mc.space_id AND m.snapshot_seq = mc.snapshot_seq AND m.superseded_at < \(milliseconds)
                """,
                logger: logger
            )
            let manifests = try await Self.count(
                "WITH gone AS (DELETE FROM snapshot_manifest WHERE superseded_at < \(milliseconds) RETURNING 1) SELECT count(*) FROM gone",
                connection,
                logger
            )
            let chunks = try await Self.count(
                """
                WITH gone AS (
                    DELETE FROM snapshot_chunk AS c WHERE c.stored_at < \(milliseconds) AND NOT EXISTS (
                        SELECT 1 FROM snapshot_manifest_chunk AS mc WHERE mc.space_id = c.space_id AND mc.chunk_id = c.id
                    )
                    RETURNING 1
                )
                SELECT count(*) FROM gone
                """,
                connection,
                logger
            )
            return SnapshotCollection(manifests: Int(manifests), chunks: Int(chunks))
        }
    }

    /// The triples of the pruned mutations become runs in one statement (consecutive client
    /// action ids of a device and session under consecutive seqs make one run); runs of
    /// different prunes are not merged.
    public func prune(space: String, through floor: Int64, dryRun: Bool) async throws -> PruneOutcome {
        let logger = database.logger
        return try await database.transaction { connection in
            guard var row = try await Self.fetchSpace(space, lock: false, connection, logger) else {
                return PruneOutcome(space: space, floorBefore: 0, floorAfter: 0, mutationsDeleted: 0, tripleRuns: 0)
            }
            if !dryRun {
                // One prune of a space at a time; the floor is read again once it is ours.
                try await connection.query(
                    "SELECT pg_advisory_xact_lock(\(Self.pruneLock), \(Int32(truncatingIfNeeded: row.id)))",
                    logger: logger
                )
                row = try await Self.fetchSpace(space, lock: false, connection, logger) ?? row
            }
            let snapshotSeq = try await Self.newestSnapshotSeq(space: row.id, connection, logger)
            let target = max(row.floor, min(floor, snapshotSeq))
            guard target > row.floor else {
                return PruneOutcome(space: space, floorBefore: row.floor, floorAfter: row.floor, mutationsDeleted: 0, tripleRuns: 0)
            }
            let runs: Int64
            let deleted: Int64
            if dryRun {
                runs = try await Self.count(
                    Self.prunedRuns(space: row.id, after: row.floor, through: target, then: Self.countRuns),
                    connection,
                    logger
                )
                deleted = try await Self.count(
                    "SELECT count(*) FROM mutation WHERE space_id = \(row.id) AND seq > \(row.floor) AND seq <= \(target)",
                    connection,
                    logger
                )
            } else {
                runs = try await Self.count(
                    Self.prunedRuns(space: row.id, after: row.floor, through: target, then: Self.insertRuns),
                    connection,
                    logger
                )
                deleted = try await Self.count(
                    """
                    WITH gone AS (
                        DELETE FROM mutation WHERE space_id = \(row.id) AND seq > \(row.floor) AND seq <= \(target) RETURNING 1
                    )
                    SELECT count(*) FROM gone
                    """,
                    connection,
                    logger
                )
                try await connection.query("UPDATE space SET floor_seq = \(target) WHERE id = \(row.id)", logger: logger)
            }
            return PruneOutcome(space: space, floorBefore: row.floor, floorAfter: target, mutationsDeleted: deleted, tripleRuns: Int(runs))
        }
    }

    /// Binary search over the held seqs (a handful of primary-key lookups), relying on commit
    /// times that do not decrease along seqs. When no mutation held was committed by then,
    /// the floor (as the memory store answers; 0 while nothing was pruned).
    public func seqCommitted(space: String, atOrBefore milliseconds: Int64) async throws -> Int64 {
        let logger = database.logger
        return try await database.perform { connection in
            guard let row = try await Self.fetchSpace(space, lock: false, connection, logger) else { return 0 }
            var search = SeqSearch(from: row.floor + 1, through: row.head, atOrBefore: milliseconds)
            while let probe = search.probe {
                let rows = try await connection.query(
                    "SELECT seq, occurred_at FROM mutation WHERE space_id = \(row.id) AND seq >= \(probe) ORDER BY seq LIMIT 1",
                    logger: logger
                ).collect()
                search.found(try rows.first.map { try $0.decode((Int64, Int64).self) })
            }
            return search.answer
        }
    }

    public func logSizes() async throws -> [SpaceLogSize] {
        try await readSizes("\(unescaped: Self.sizesSelect) ORDER BY s.name")
    }

    public func logSizes(of spaces: Set<String>) async throws -> [SpaceLogSize] {
        guard !spaces.isEmpty else { return [] }
        let names = spaces.sorted()
        return try await readSizes("\(unescaped: Self.sizesSelect) WHERE s.name = ANY(\(names)) ORDER BY s.name")
    }

    /// The columns of a ``SpaceLogSize``, from `space AS s`.
    private static let sizesSelect = """
        SELECT s.name, s.head_seq, s.floor_seq,
            coalesce((SELECT max(m.snapshot_seq) FROM snapshot_manifest AS m WHERE m.space_id = s.id), 0)
        FROM space AS s
        """

    private func readSizes(_ query: PostgresQuery) async throws -> [SpaceLogSize] {
        let logger = database.logger
        return try await database.perform { connection in
            var sizes: [SpaceLogSize] = []
            for try await (name, head, floor, snapshot) in try await connection.query(query, logger: logger)
                .decode((String, Int64, Int64, Int64).self)
            {
                sizes.append(SpaceLogSize(space: name, headSeq: head, floorSeq: floor, snapshotSeq: snapshot))
            }
            return sizes
        }
    }

    public func takeWrittenSpaces() -> Set<String>? { watcher.takePublishedSpaces() }

    // MARK: - Helpers

    /// The first key of the advisory locks that keep prunes of one space apart.
    static let pruneLock: Int32 = 72_707_371

    /// The id of `space` when its state seq is `from` (read without a lock: the transaction
    /// checks it again when it moves it).
    private static func stateSpace(
        _ space: String,
        expecting from: Int64,
        _ connection: PostgresConnection,
        _ logger: Logger
    ) async throws
        -> Int64
    {
        let rows = try await connection.query("SELECT id, state_seq FROM space WHERE name = \(space)", logger: logger).collect()
        guard let row = rows.first else { throw FerryError(.notFound, "space '\(space)' has no log") }
        let (id, current) = try row.decode((Int64, Int64).self)
        guard current == from else {
            throw FerryError(.conflict, "the state of space '\(space)' is at seq \(current), not \(from): another builder moved it")
        }
        return id
    }

    /// The `snapshot_seq` of the space's newest manifest; 0 when none.
    private static func newestSnapshotSeq(space: Int64, _ connection: PostgresConnection, _ logger: Logger) async throws -> Int64 {
        try await count("SELECT coalesce(max(snapshot_seq), 0) FROM snapshot_manifest WHERE space_id = \(space)", connection, logger)
    }

    /// The single `bigint` a query answers.
    private static func count(_ query: PostgresQuery, _ connection: PostgresConnection, _ logger: Logger) async throws -> Int64 {
        let rows = try await connection.query(query, logger: logger).collect()
        return try rows.first?.decode(Int64.self) ?? 0
    }

    /// The runs of dedup triples of the space's mutations `after < seq ≤ through` as the
    /// `numbered` rows, grouped by device and session, a new run starting where the client
    /// action id or the seq is not the previous one's plus one; followed by `tail`.
    private static func prunedRuns(space: Int64, after: Int64, through: Int64, then tail: String) -> PostgresQuery {
        """
        WITH pruned AS (
            SELECT space_id, device_id, session_id, client_action_id, seq,
                CASE WHEN lag(client_action_id) OVER w = client_action_id - 1 AND lag(seq) OVER w = seq - 1
                    THEN 0 ELSE 1 END AS starts
            FROM mutation WHERE space_id = \(space) AND seq > \(after) AND seq <= \(through)
            WINDOW w AS (PARTITION BY device_id, session_id ORDER BY client_action_id)
        ), numbered AS (
            SELECT space_id, device_id, session_id, client_action_id, seq,
                sum(starts) OVER (PARTITION BY device_id, session_id ORDER BY client_action_id ROWS UNBOUNDED PRECEDING) AS run
            FROM pruned
        )
        \(unescaped: tail)
        """
    }

    private static let countRuns = "SELECT count(*) FROM (SELECT 1 FROM numbered GROUP BY device_id, session_id, run) AS runs"

    private static let insertRuns = """
        , inserted AS (
            INSERT INTO pruned_triple_run (space_id, device_id, session_id, first_action_id, last_action_id, first_seq)
            SELECT space_id, device_id, session_id, min(client_action_id), max(client_action_id), min(seq)
            FROM numbered GROUP BY space_id, device_id, session_id, run
            RETURNING 1
        )
        SELECT count(*) FROM inserted
        """

    /// The seqs under which a batch's triples were stored before they were pruned, by
    /// client action id: the run starting at or below each id (one probe of the primary key
    /// per id), when it reaches the id.
    static func prunedSeqs(
        of batch: AppendBatch,
        ids: [Int64],
        space: Int64,
        _ connection: PostgresConnection,
        _ logger: Logger
    ) async throws -> [(Int64, Int64)] {
        var seqs: [(Int64, Int64)] = []
        for try await (id, seq) in try await connection.query(
            """
            SELECT i.id, r.first_seq + (i.id - r.first_action_id) FROM unnest(\(ids)::bigint[]) AS i(id)
            CROSS JOIN LATERAL (
                SELECT first_action_id, last_action_id, first_seq FROM pruned_triple_run
                WHERE space_id = \(space) AND device_id = \(batch.deviceID) AND session_id = \(batch.sessionID)
                    AND first_action_id <= i.id
                ORDER BY first_action_id DESC LIMIT 1
            ) AS r
            WHERE r.last_action_id >= i.id
            """,
            logger: logger
        ).decode((Int64, Int64).self) {
            seqs.append((id, seq))
        }
        return seqs
    }
}

/// The columns of state records, as arrays for one `unnest` upsert.
private struct StateColumns: Sendable {
    var entities: [String] = []
    var keys: [String] = []
    var payloads: [ByteBuffer] = []
    var seqs: [Int64] = []

    mutating func reserveCapacity(_ count: Int) {
        entities.reserveCapacity(count)
        keys.reserveCapacity(count)
        payloads.reserveCapacity(count)
        seqs.reserveCapacity(count)
    }

    mutating func append(_ record: StateRecord) {
        entities.append(record.entity)
        keys.append(record.entityKey)
        payloads.append(ByteBuffer(bytes: record.payload))
        seqs.append(record.seq)
    }

    mutating func replace(at index: Int, with record: StateRecord) {
        payloads[index] = ByteBuffer(bytes: record.payload)
        seqs[index] = record.seq
    }
}
