import FerryCore
import FerryLog
import FerrySQLite
import GRDB

/// Snapshots and retention in the SQLite file (migration "v3 snapshots").
///
/// - `space.state_seq` and `space.floor_seq` sit beside the head, so a status is one row.
/// - `snapshot_state` holds the state table, keyed by (space, entity, entity key); SQLite's
///   `BINARY` collation compares UTF-8 bytes, so its primary key is in snapshot order and a
///   scan is a range of it.
/// - `snapshot_chunk` holds each chunk's body once per (space, id), with its first store time
///   (`created_at`, answered to clients) and its latest (`stored_at`, see
///   ``collectSnapshots(supersededBefore:)``).
/// - `snapshot_manifest` holds the newest manifest (`superseded_at` NULL) and the superseded
///   ones not collected yet; `snapshot_manifest_chunk` lists the chunks each names, in order.
///   A manifest is answered with the chunks' stored sizes and creation times.
/// - `pruned_triple_run` keeps the dedup triples of pruned mutations compactly: a row
///   (device, session, first, last, first seq) says that client action ids first…last of that
///   device and session were stored under seqs `first_seq + (id − first)`. A session that
///   pushes in order while no other device pushes is one row however long it is.
extension SQLiteEventLog: SnapshotStore {
    public func snapshotStatus(space: String) async throws -> SnapshotStatus {
        try await database.read { db in
            guard let row = try Self.fetchSpace(space, in: db) else {
                return SnapshotStatus(headSeq: 0, logID: "", floorSeq: 0, stateSeq: 0, snapshotSeq: 0)
            }
            return SnapshotStatus(
                headSeq: row.head,
                logID: row.logID,
                floorSeq: row.floor,
                stateSeq: try Self.stateSeq(space: row.id, in: db),
                snapshotSeq: try Self.newestSnapshotSeq(space: row.id, in: db)
            )
        }
    }

    public func stateRecords(space: String, keys: [RecordKey]) async throws -> [RecordKey: StateRecord] {
        guard !keys.isEmpty else { return [:] }
        return try await database.read { db in
            guard let row = try Self.fetchSpace(space, in: db) else { return [:] }
            var records: [RecordKey: StateRecord] = [:]
            records.reserveCapacity(keys.count)
            try Self.forEachChunk(ofKeys: keys) { entity, chunk in
                let placeholders = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
                var arguments: [(any DatabaseValueConvertible)?] = [row.id, entity]
                arguments.append(contentsOf: chunk.map { $0 as (any DatabaseValueConvertible)? })
                let statement = try db.cachedStatement(
                    sql: """
                        SELECT entity_key, payload, seq FROM snapshot_state
                        WHERE space_id = ? AND entity = ? AND entity_key IN (\(placeholders))
                        """
                )
                var rows = try StatementRows(statement, arguments: StatementArguments(arguments))
                while try rows.next() {
                    let record = StateRecord(entity: entity, entityKey: rows.string(0), payload: rows.bytes(1) ?? [], seq: rows.int64(2))
                    records[record.key] = record
                }
            }
            return records
        }
    }

    /// Deletes are removed first, then upserts written (a key in both ends up upserted, as
    /// in the memory store); a key upserted twice keeps its last record.
    /// - Throws: ``FerryCore/FerryError`` `conflict` when the state seq is not `from`,
    ///   `notFound` when the space has no log.
    public func updateState(space: String, from: Int64, to: Int64, upserts: [StateRecord], deletes: [RecordKey]) async throws {
        try await database.write { db in
            let row = try Self.requireSpace(space, in: db)
            let current = try Self.stateSeq(space: row.id, in: db)
            guard current == from else {
                throw FerryError(.conflict, "the state of space '\(space)' is at seq \(current), not \(from): another builder moved it")
            }
            try Self.forEachChunk(ofKeys: deletes) { entity, chunk in
                let placeholders = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
                var arguments: [(any DatabaseValueConvertible)?] = [row.id, entity]
                arguments.append(contentsOf: chunk.map { $0 as (any DatabaseValueConvertible)? })
                try db.cachedStatement(
                    sql: "DELETE FROM snapshot_state WHERE space_id = ? AND entity = ? AND entity_key IN (\(placeholders))"
                ).execute(arguments: StatementArguments(arguments))
            }
            try Self.insertRows(
                upserts,
                into: "INSERT INTO snapshot_state (space_id, entity, entity_key, payload, seq) VALUES",
                row: "(?, ?, ?, ?, ?)",
                suffix: "ON CONFLICT (space_id, entity, entity_key) DO UPDATE SET payload = excluded.payload, seq = excluded.seq",
                db
            ) { binder, record in
                try binder.bind(row.id)
                try binder.bind(record.entity)
                try binder.bind(record.entityKey)
                try binder.bind(blob: record.payload)
                try binder.bind(record.seq)
            }
            try db.cachedStatement(sql: "UPDATE space SET state_seq = ? WHERE id = ?").execute(arguments: [to, row.id])
        }
    }

    public func scanState(space: String, after: RecordKey?, limit: Int) async throws -> [StateRecord] {
        guard limit > 0 else { return [] }
        return try await database.read { db in
            guard let row = try Self.fetchSpace(space, in: db) else { return [] }
            let columns = "SELECT entity, entity_key, payload, seq FROM snapshot_state"
            let statement: Statement
            let arguments: StatementArguments
            if let after {
                // A row-value comparison is a range of the primary key.
                statement = try db.cachedStatement(
                    sql: "\(columns) WHERE space_id = ? AND (entity, entity_key) > (?, ?) ORDER BY entity, entity_key LIMIT ?"
                )
                arguments = [row.id, after.entity, after.key, limit]
            } else {
                statement = try db.cachedStatement(sql: "\(columns) WHERE space_id = ? ORDER BY entity, entity_key LIMIT ?")
                arguments = [row.id, limit]
            }
            var rows = try StatementRows(statement, arguments: arguments)
            var records: [StateRecord] = []
            records.reserveCapacity(min(limit, 10_000))
            while try rows.next() {
                records.append(
                    StateRecord(entity: rows.string(0), entityKey: rows.string(1), payload: rows.bytes(2) ?? [], seq: rows.int64(3))
                )
            }
            return records
        }
    }

    /// A chunk id is kept in lowercase.
    /// - Throws: ``FerryCore/FerryError`` `notFound` when the space has no log.
    public func storeChunk(space: String, id: String, records: Int, body: [UInt8], at milliseconds: Int64) async throws -> Int64 {
        let id = id.lowercased()
        return try await database.write { db in
            let row = try Self.requireSpace(space, in: db)
            // Storing a chunk again only moves its `stored_at`, which keeps a chunk that a
            // manifest is about to name from being collected.
            var statement = try db.cachedStatement(
                sql: """
                    INSERT INTO snapshot_chunk (space_id, id, records, bytes, body, created_at, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (space_id, id) DO UPDATE SET stored_at = max(stored_at, excluded.stored_at)
                    """
            )
            var binder = StatementBinder(statement)
            try binder.bind(row.id)
            try binder.bind(id)
            try binder.bind(Int64(records))
            try binder.bind(Int64(body.count))
            try binder.bind(blob: body)
            try binder.bind(milliseconds)
            try binder.bind(milliseconds)
            try statement.execute()
            statement = try db.cachedStatement(sql: "SELECT created_at FROM snapshot_chunk WHERE space_id = ? AND id = ?")
            return try Int64.fetchOne(statement, arguments: [row.id, id]) ?? milliseconds
        }
    }

    /// Also refuses (answers `false`) a manifest whose `snapshotSeq` is not above the newest
    /// one's, and one naming a chunk the space does not hold.
    public func publishManifest(space: String, manifest: SnapshotManifest, at milliseconds: Int64) async throws -> Bool {
        try await database.write { db in
            guard let row = try Self.fetchSpace(space, in: db), row.logID == manifest.logID,
                try Self.stateSeq(space: row.id, in: db) == manifest.snapshotSeq,
                manifest.snapshotSeq > (try Self.newestSnapshotSeq(space: row.id, in: db))
            else { return false }
            let ids = manifest.chunks.map { $0.id.lowercased() }
            let find = try db.cachedStatement(sql: "SELECT 1 FROM snapshot_chunk WHERE space_id = ? AND id = ?")
            for id in Set(ids) where try Int64.fetchOne(find, arguments: [row.id, id]) == nil {
                return false
            }
            try db.cachedStatement(sql: "UPDATE snapshot_manifest SET superseded_at = ? WHERE space_id = ? AND superseded_at IS NULL")
                .execute(arguments: [milliseconds, row.id])
            try db.cachedStatement(
                sql: "INSERT INTO snapshot_manifest (space_id, snapshot_seq, version, log_id, created_at) VALUES (?, ?, ?, ?, ?)"
            ).execute(arguments: [row.id, manifest.snapshotSeq, manifest.version, manifest.logID, milliseconds])
            try Self.insertRows(
                Array(ids.enumerated()),
                into: "INSERT INTO snapshot_manifest_chunk (space_id, snapshot_seq, position, chunk_id) VALUES",
                row: "(?, ?, ?, ?)",
                db
            ) { binder, chunk in
                try binder.bind(row.id)
                try binder.bind(manifest.snapshotSeq)
                try binder.bind(Int64(chunk.offset))
                try binder.bind(chunk.element)
            }
            return true
        }
    }

    public func newestManifest(space: String) async throws -> SnapshotManifest? {
        try await database.read { db in
            guard let row = try Self.fetchSpace(space, in: db),
                let newest = try Row.fetchOne(
                    db.cachedStatement(
                        sql: """
                            SELECT snapshot_seq, version, log_id FROM snapshot_manifest
                            WHERE space_id = ? ORDER BY snapshot_seq DESC LIMIT 1
                            """
                    ),
                    arguments: [row.id]
                )
            else { return nil }
            let snapshotSeq: Int64 = newest[0]
            let statement = try db.cachedStatement(
                sql: """
                    SELECT c.id, c.records, c.bytes, c.created_at FROM snapshot_manifest_chunk AS mc
                    JOIN snapshot_chunk AS c ON c.space_id = mc.space_id AND c.id = mc.chunk_id
                    WHERE mc.space_id = ? AND mc.snapshot_seq = ? ORDER BY mc.position
                    """
            )
            var rows = try StatementRows(statement, arguments: [row.id, snapshotSeq])
            var chunks: [SnapshotManifest.Chunk] = []
            while try rows.next() {
                chunks.append(
                    SnapshotManifest.Chunk(
                        id: rows.string(0),
                        records: Int(rows.int64(1)),
                        bytes: Int(rows.int64(2)),
                        createdAtMilliseconds: rows.int64(3)
                    )
                )
            }
            return SnapshotManifest(version: newest[1], logID: newest[2], snapshotSeq: snapshotSeq, floorSeq: row.floor, chunks: chunks)
        }
    }

    public func chunkBody(id: String, spaces: [String]) async throws -> [UInt8]? {
        let id = id.lowercased()
        return try await database.read { db in
            let statement = try db.cachedStatement(
                sql: """
                    SELECT c.body FROM space AS s JOIN snapshot_chunk AS c ON c.space_id = s.id AND c.id = ?
                    WHERE s.name = ? AND EXISTS (
                        SELECT 1 FROM snapshot_manifest_chunk AS mc WHERE mc.space_id = c.space_id AND mc.chunk_id = c.id
                    )
                    LIMIT 1
                    """
            )
            for space in spaces {
                var rows = try StatementRows(statement, arguments: [id, space])
                guard try rows.next() else { continue }
                let body = rows.bytes(0) ?? []
                // Stepped to its end, the statement is reset: one left on a row would hold
                // this reader's snapshot.
                while try rows.next() {}
                return body
            }
            return nil
        }
    }

    /// A chunk no manifest names is deleted only once it was last stored before
    /// `milliseconds` too: a builder stores its chunks before it publishes the manifest that
    /// names them, and a collection in between must not take them away.
    public func collectSnapshots(supersededBefore milliseconds: Int64) async throws -> SnapshotCollection {
        try await database.write { db in
            try db.cachedStatement(
                sql: """
                    DELETE FROM snapshot_manifest_chunk WHERE (space_id, snapshot_seq) IN (
                        SELECT space_id, snapshot_seq FROM snapshot_manifest WHERE superseded_at < ?
                    )
                    """
            ).execute(arguments: [milliseconds])
            try db.cachedStatement(sql: "DELETE FROM snapshot_manifest WHERE superseded_at < ?").execute(arguments: [milliseconds])
            let manifests = db.changesCount
            try db.cachedStatement(
                sql: """
                    DELETE FROM snapshot_chunk WHERE stored_at < ? AND NOT EXISTS (
                        SELECT 1 FROM snapshot_manifest_chunk AS mc
                        WHERE mc.space_id = snapshot_chunk.space_id AND mc.chunk_id = snapshot_chunk.id
                    )
                    """
            ).execute(arguments: [milliseconds])
            return SnapshotCollection(manifests: manifests, chunks: db.changesCount)
        }
    }

    /// The triples of the pruned mutations become runs in one statement (consecutive client
    /// action ids of a device and session under consecutive seqs make one run); runs of
    /// different prunes are not merged.
    public func prune(space: String, through floor: Int64, dryRun: Bool) async throws -> PruneOutcome {
        let work: @Sendable (Database) throws -> PruneOutcome = { db in
            try Self.prune(space: space, through: floor, dryRun: dryRun, in: db)
        }
        return dryRun ? try await database.read(work) : try await database.write(work)
    }

    /// Binary search over the held seqs (a handful of primary-key lookups), relying on commit
    /// times that do not decrease along seqs. When no mutation held was committed by then,
    /// the floor (as the memory store answers; 0 while nothing was pruned).
    public func seqCommitted(space: String, atOrBefore milliseconds: Int64) async throws -> Int64 {
        try await database.read { db in
            guard let row = try Self.fetchSpace(space, in: db) else { return 0 }
            let statement = try db.cachedStatement(
                sql: "SELECT seq, occurred_at FROM mutation WHERE space_id = ? AND seq >= ? ORDER BY seq LIMIT 1"
            )
            var search = SeqSearch(from: row.floor + 1, through: row.head, atOrBefore: milliseconds)
            while let probe = search.probe {
                let found = try Row.fetchOne(statement, arguments: [row.id, probe])
                search.found(found.map { ($0[0], $0[1]) })
            }
            return search.answer
        }
    }

    public func logSizes() async throws -> [SpaceLogSize] {
        try await database.read { db in
            try Self.sizes(db.cachedStatement(sql: "\(Self.sizesSelect) ORDER BY s.name"), arguments: [])
        }
    }

    public func logSizes(of spaces: Set<String>) async throws -> [SpaceLogSize] {
        let names = spaces.sorted()
        return try await database.read { db in
            var sizes: [SpaceLogSize] = []
            // At most 500 names a statement, well under SQLite's limit on bound values.
            for start in stride(from: 0, to: names.count, by: 500) {
                let part = Array(names[start..<min(start + 500, names.count)])
                let sql = "\(Self.sizesSelect) WHERE s.name IN (\(databaseQuestionMarks(count: part.count))) ORDER BY s.name"
                sizes += try Self.sizes(db.cachedStatement(sql: sql), arguments: StatementArguments(part))
            }
            return sizes
        }
    }

    /// The columns of a ``SpaceLogSize``, from `space AS s`.
    private static let sizesSelect = """
        SELECT s.name, s.head_seq, s.floor_seq,
            coalesce((SELECT max(m.snapshot_seq) FROM snapshot_manifest AS m WHERE m.space_id = s.id), 0)
        FROM space AS s
        """

    private static func sizes(_ statement: Statement, arguments: StatementArguments) throws -> [SpaceLogSize] {
        let rows = try Row.fetchCursor(statement, arguments: arguments)
        var sizes: [SpaceLogSize] = []
        while let row = try rows.next() {
            sizes.append(SpaceLogSize(space: row[0], headSeq: row[1], floorSeq: row[2], snapshotSeq: row[3]))
        }
        return sizes
    }

    public func takeWrittenSpaces() -> Set<String>? { watcher.takePublishedSpaces() }

    // MARK: - Helpers

    private static func requireSpace(_ name: String, in db: Database) throws -> SpaceRow {
        guard let row = try fetchSpace(name, in: db) else { throw FerryError(.notFound, "space '\(name)' has no log") }
        return row
    }

    private static func stateSeq(space: Int64, in db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT state_seq FROM space WHERE id = ?"), arguments: [space]) ?? 0
    }

    /// The `snapshot_seq` of the space's newest manifest; 0 when none.
    private static func newestSnapshotSeq(space: Int64, in db: Database) throws -> Int64 {
        try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT coalesce(max(snapshot_seq), 0) FROM snapshot_manifest WHERE space_id = ?"),
            arguments: [space]
        ) ?? 0
    }

    /// Calls `body` with the keys of each entity, at most ``rowsPerStatement`` at a time.
    private static func forEachChunk(ofKeys keys: [RecordKey], _ body: (String, ArraySlice<String>) throws -> Void) throws {
        var byEntity: [String: [String]] = [:]
        for key in keys { byEntity[key.entity, default: []].append(key.key) }
        for (entity, keys) in byEntity {
            for start in stride(from: 0, to: keys.count, by: rowsPerStatement) {
                try body(entity, keys[start..<min(start + rowsPerStatement, keys.count)])
            }
        }
    }

    /// The runs of dedup triples of the mutations `after < seq ≤ through`, grouped by
    /// device and session, a new run starting where the client action id or the seq is not
    /// the previous one's plus one. Bound: space, after, through.
    private static let prunedRuns = """
        WITH pruned AS (
            SELECT device_id, session_id, client_action_id, seq,
                CASE WHEN lag(client_action_id) OVER w = client_action_id - 1 AND lag(seq) OVER w = seq - 1
                    THEN 0 ELSE 1 END AS starts
            FROM mutation WHERE space_id = ? AND seq > ? AND seq <= ?
            WINDOW w AS (PARTITION BY device_id, session_id ORDER BY client_action_id)
        ), numbered AS (
            SELECT device_id, session_id, client_action_id, seq,
                sum(starts) OVER (PARTITION BY device_id, session_id ORDER BY client_action_id ROWS UNBOUNDED PRECEDING) AS run
            FROM pruned
        )
        """

    private static func prune(space name: String, through floor: Int64, dryRun: Bool, in db: Database) throws -> PruneOutcome {
        guard let row = try fetchSpace(name, in: db) else {
            return PruneOutcome(space: name, floorBefore: 0, floorAfter: 0, mutationsDeleted: 0, tripleRuns: 0)
        }
        let target = max(row.floor, min(floor, try newestSnapshotSeq(space: row.id, in: db)))
        guard target > row.floor else {
            return PruneOutcome(space: name, floorBefore: row.floor, floorAfter: row.floor, mutationsDeleted: 0, tripleRuns: 0)
        }
        let range: StatementArguments = [row.id, row.floor, target]
        let runs: Int
        let deleted: Int64
        if dryRun {
            runs =
                try Int.fetchOne(
                    db.cachedStatement(
                        sql: "\(prunedRuns) SELECT count(*) FROM (SELECT 1 FROM numbered GROUP BY device_id, session_id, run) AS runs"
                    ),
                    arguments: range
                ) ?? 0
            deleted =
                try Int64.fetchOne(
                    db.cachedStatement(sql: "SELECT count(*) FROM mutation WHERE space_id = ? AND seq > ? AND seq <= ?"),
                    arguments: range
                ) ?? 0
        } else {
            try db.cachedStatement(
                sql: """
                    \(prunedRuns)
                    INSERT INTO pruned_triple_run (space_id, device_id, session_id, first_action_id, last_action_id, first_seq)
                    SELECT \(row.id), device_id, session_id, min(client_action_id), max(client_action_id), min(seq)
                    FROM numbered GROUP BY device_id, session_id, run
                    """
            ).execute(arguments: range)
            runs = db.changesCount
            try db.cachedStatement(sql: "DELETE FROM mutation WHERE space_id = ? AND seq > ? AND seq <= ?").execute(arguments: range)
            deleted = Int64(db.changesCount)
            try db.cachedStatement(sql: "UPDATE space SET floor_seq = ? WHERE id = ?").execute(arguments: [target, row.id])
        }
        return PruneOutcome(space: name, floorBefore: row.floor, floorAfter: target, mutationsDeleted: deleted, tripleRuns: runs)
    }

    /// The seqs under which the batch's triples were stored before they were pruned, by
    /// client action id: a run holding an id gives `first_seq + (id − first_action_id)`. Runs
    /// are disjoint, so reading the session's runs downward from the batch's highest id stops
    /// at the first run that ends below its lowest: one range of the primary key.
    static func prunedSeqs(of batch: AppendBatch, space: Int64, in db: Database) throws -> [Int64: Int64] {
        var seqs: [Int64: Int64] = [:]
        let ids = Set(batch.mutations.map(\.clientActionID))
        guard let lowest = ids.min(), let highest = ids.max() else { return seqs }
        let runs = try Row.fetchCursor(
            db.cachedStatement(
                sql: """
                    SELECT first_action_id, last_action_id, first_seq FROM pruned_triple_run
                    WHERE space_id = ? AND device_id = ? AND session_id = ? AND first_action_id <= ?
                    ORDER BY first_action_id DESC
                    """
            ),
            arguments: [space, batch.deviceID, batch.sessionID, highest]
        )
        while let run = try runs.next() {
            let (first, last, firstSeq): (Int64, Int64, Int64) = (run[0], run[1], run[2])
            if last < lowest { break }
            if last - first < Int64(ids.count) {
                for id in first...last where ids.contains(id) { seqs[id] = firstSeq + (id - first) }
            } else {
                for id in ids where id >= first && id <= last { seqs[id] = firstSeq + (id - first) }
            }
        }
        return seqs
    }
}
