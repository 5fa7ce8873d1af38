import FerryCore
import GRDB
import Logging

extension LocalStore {
    /// A bootstrap from a snapshot in progress: the manifest it follows and the chunks
    /// applied so far. Kept in the database, so that a bootstrap cut short (a crash, a lost
    /// connection) resumes without downloading the applied chunks again.
    public struct BootstrapState: Sendable, Hashable {
        /// The space bootstrapped.
        public var space: String
        /// The `log_id` of the manifest followed.
        public var logID: String
        /// The `snapshot_seq` of the manifest followed.
        public var snapshotSeq: Int64
        /// The ids of the chunks applied.
        public var appliedChunkIDs: Set<String>
        /// The records of the chunks applied.
        public var recordsApplied: Int
        /// The bytes of the chunks applied, as downloaded.
        public var bytesApplied: Int

        /// Whether this bootstrap follows `manifest` (same log, same snapshot).
        public func follows(_ manifest: SnapshotManifest) -> Bool {
            logID == manifest.logID && snapshotSeq == manifest.snapshotSeq
        }
    }

    /// The bootstrap of `space` in progress, if any.
    public func bootstrapState(space: String) async throws -> BootstrapState? {
        try await writer.read { db in try Self.bootstrapState(space: space, db) }
    }

    static func bootstrapState(space: String, _ db: Database) throws -> BootstrapState? {
        guard
            let row = try Row.fetchOne(
                db,
                sql: "SELECT log_id, snapshot_seq FROM ferry_bootstrap WHERE space = ?",
                arguments: [space]
            )
        else { return nil }
        var state = BootstrapState(
            space: space,
            logID: row[0],
            snapshotSeq: row[1],
            appliedChunkIDs: [],
            recordsApplied: 0,
            bytesApplied: 0
        )
        for chunk in try Row.fetchAll(
            db,
            sql: "SELECT chunk_id, records, bytes FROM ferry_bootstrap_chunks WHERE space = ?",
            arguments: [space]
        ) {
            state.appliedChunkIDs.insert(chunk[0])
            state.recordsApplied += chunk[1] as Int
            state.bytesApplied += chunk[2] as Int
        }
        return state
    }

    /// Starts bootstrapping `space` from `manifest`, in one transaction: forgets the local
    /// copy of the space as ``reset(space:logID:)`` does (rows that came from the server
    /// leave the app's tables, the shadow is emptied, pending local changes stay and are
    /// shown), forgets any bootstrap in progress, sets the cursor to 0 with the manifest's
    /// log, and records the manifest followed.
    ///
    /// Acknowledged local mutations go back to pending when the manifest's log is not the
    /// cursor's (the new log may not hold them); on the same log (a bootstrap after `410
    /// history_pruned`) they stay acknowledged, and those the snapshot covers leave the
    /// outbox when the bootstrap ends.
    package func beginBootstrap(space: String, manifest: SnapshotManifest) async throws {
        try await writer.write { db in
            let cursor = try Self.cursor(space: space, db)
            // A device with rows of this very log (one that fell below the floor) keeps them,
            // and its cursor, until the snapshot is whole: a failed or interrupted bootstrap
            // never leaves it with fewer rows or an older cursor than before.
            let inPlace = cursor.logID == manifest.logID && cursor.lastSeq > 0
            if inPlace {
                try db.execute(sql: "DELETE FROM ferry_bootstrap WHERE space = ?", arguments: [space])
                try db.execute(sql: "DELETE FROM ferry_bootstrap_chunks WHERE space = ?", arguments: [space])
                try db.execute(sql: "DELETE FROM ferry_bootstrap_keys")
            } else {
                try self.reset(space: space, logID: manifest.logID, requeueAcked: cursor.logID != manifest.logID, db)
            }
            try db.execute(
                sql: "INSERT INTO ferry_bootstrap (space, log_id, snapshot_seq, started_at, in_place) VALUES (?, ?, ?, ?, ?)",
                arguments: [
                    space, manifest.logID, manifest.snapshotSeq, RFC3339.format(millisecondsSince1970: self.clock.nowMilliseconds()),
                    inPlace,
                ]
            )
        }
        logger.notice(
            "bootstrapping the space from a snapshot",
            metadata: [
                "ferry.space": "\(space)", "ferry.snapshot_seq": "\(manifest.snapshotSeq)", "ferry.chunks": "\(manifest.chunks.count)",
            ]
        )
    }

    /// Applies one verified snapshot chunk of the bootstrap of `space` in its own
    /// transaction, and records it as applied.
    ///
    /// Each record is written as pulling it would: the shadow gets the record at its seq,
    /// and the app's row becomes the record (all of its columns; a column the record lacks
    /// takes its default), or, when local changes of the record wait in the outbox, the
    /// record with them replayed. A record of a table that is not registered is kept in the
    /// shadow only. A record the database refuses, or whose payload does not read, goes to
    /// the dead letters. A chunk already applied changes nothing.
    ///
    /// - Returns: The records applied; 0 when the chunk was applied before.
    /// - Throws: ``LocalStoreError`` `bootstrapMismatch` when no bootstrap of `space` follows
    ///   a manifest with `snapshotSeq` and `logID`; database errors. After an error nothing
    ///   of the chunk was applied.
    @discardableResult
    package func applySnapshotChunk(
        _ records: [SnapshotRecord],
        id: String,
        bytes: Int,
        space: String,
        snapshotSeq: Int64,
        logID: String
    ) async throws -> Int {
        try await writer.write { db in
            // The bootstrap's row and this chunk's only: reading every applied chunk here
            // would make a bootstrap of many chunks quadratic.
            let followed = try Row.fetchOne(
                db,
                sql: "SELECT log_id, snapshot_seq, in_place FROM ferry_bootstrap WHERE space = ?",
                arguments: [space]
            )
            guard let followed, followed[0] as String == logID, followed[1] as Int64 == snapshotSeq else {
                throw LocalStoreError(.bootstrapMismatch, "no bootstrap of '\(space)' follows the snapshot at \(snapshotSeq)")
            }
            let done = try Bool.fetchOne(
                db,
                sql: "SELECT EXISTS (SELECT 1 FROM ferry_bootstrap_chunks WHERE space = ? AND chunk_id = ?)",
                arguments: [space, id]
            )
            guard done != true else { return 0 }
            try self.applySnapshotRecords(records, space: space, snapshotSeq: snapshotSeq, marking: followed[2], db)
            try db.execute(
                sql: "INSERT INTO ferry_bootstrap_chunks (space, chunk_id, records, bytes) VALUES (?, ?, ?, ?)",
                arguments: [space, id, records.count, bytes]
            )
            return records.count
        }
    }

    /// Writes a chunk's records into the shadow and the app's tables; with `marking` (a
    /// bootstrap in place), also notes each record's key for the sweep at the end.
    private func applySnapshotRecords(
        _ records: [SnapshotRecord],
        space: String,
        snapshotSeq: Int64,
        marking: Bool,
        _ db: Database
    ) throws {
        if marking {
            let mark = try db.cachedStatement(sql: "INSERT OR IGNORE INTO ferry_bootstrap_keys (entity, entity_key) VALUES (?, ?)")
            for record in records { try mark.execute(arguments: [record.entity, record.entityKey]) }
        }
        let tables = Dictionary(uniqueKeysWithValues: try Self.syncedTables(db).map { ($0.name, $0) })
        var pendingKeys = Set<String>()
        for row in try Row.fetchAll(db, sql: "SELECT DISTINCT entity, entity_key FROM ferry_outbox WHERE state IN ('pending', 'acked')") {
            pendingKeys.insert("\(row[0] as String)\u{0}\(row[1] as String)")
        }
        let writer = PageWriter(db)
        func flush() throws {
            for refused in try writer.flush() {
                try insertDeadLetter(refused.mutation, error: refused.error.message ?? refused.error.description, space: space, db)
            }
        }
        try withApplyGuard(db) {
            for record in records {
                let payload: RecordFields
                do {
                    guard let object = try JSONValue(parsing: record.payload).objectValue else {
                        throw LocalStoreError(.corruptData, "the payload is not a JSON object")
                    }
                    payload = object
                } catch {
                    try flush()
                    try insertDeadLetter(
                        Self.snapshotMutation(record, payload: nil),
                        error: "the snapshot record's payload does not read: \(error)",
                        space: space,
                        db
                    )
                    continue
                }
                try writer.bufferShadow(entity: record.entity, key: record.entityKey, record: payload, seq: record.seq)
                guard let table = tables[record.entity] else { continue }
                let mutation = Self.snapshotMutation(record, payload: payload)
                guard pendingKeys.contains("\(record.entity)\u{0}\(record.entityKey)") else {
                    try writer.bufferRow(table, key: record.entityKey, record: payload, for: mutation)
                    continue
                }
                try flush()
                do {
                    try rebuildVisibleRow(table, key: record.entityKey, appliedSeq: snapshotSeq, db)
                } catch let error as DatabaseError where PageWriter.isRefusal(error) {
                    try insertDeadLetter(mutation, error: error.message ?? error.description, space: space, db)
                }
            }
            try flush()
        }
    }

    /// A snapshot record as the upsert of its payload at its seq, for the page writer and the
    /// dead letters (which name the writing device `snapshot`).
    private static func snapshotMutation(_ record: SnapshotRecord, payload: RecordFields?) -> LoggedMutation {
        LoggedMutation(
            seq: record.seq,
            deviceID: "snapshot",
            sessionID: "snapshot",
            mutation: Mutation(
                clientActionID: 0,
                entity: record.entity,
                entityKey: record.entityKey,
                op: .upsert,
                payload: payload.map(JSONValue.object)
            ),
            occurredAtMilliseconds: 0
        )
    }

    /// Ends the bootstrap of `space` from `manifest` in one transaction: the cursor moves to
    /// the manifest's `snapshot_seq` with its log, acknowledged local mutations the snapshot
    /// covers leave the outbox, the rows with local changes pending are rebuilt on the
    /// snapshot's records, and the bootstrap's bookkeeping is cleared.
    /// - Throws: ``LocalStoreError`` `bootstrapMismatch` when no bootstrap of `space` follows
    ///   `manifest`, or a chunk of it is not applied yet.
    package func finishBootstrap(space: String, manifest: SnapshotManifest) async throws {
        try await writer.write { db in
            guard let state = try Self.bootstrapState(space: space, db), state.follows(manifest) else {
                throw LocalStoreError(.bootstrapMismatch, "no bootstrap of '\(space)' follows the snapshot at \(manifest.snapshotSeq)")
            }
            let missing = manifest.chunks.filter { !state.appliedChunkIDs.contains($0.id) }.count
            guard missing == 0 else {
                throw LocalStoreError(.bootstrapMismatch, "\(missing) chunks of the snapshot at \(manifest.snapshotSeq) are not applied")
            }
            let inPlace = try Bool.fetchOne(db, sql: "SELECT in_place FROM ferry_bootstrap WHERE space = ?", arguments: [space]) ?? false
            try self.withApplyGuard(db) {
                if inPlace { try self.sweepRecordsMissingFromSnapshot(db) }
                // The keys with local changes, read before moving the cursor drops the
                // acknowledged ones the snapshot covers: their rows are rebuilt too, so a row
                // this device inserted, whose echo it never pulled and which another device
                // deleted before the snapshot, goes (found by the simulation, seed 115).
                let keys = try Row.fetchAll(
                    db,
                    sql: "SELECT DISTINCT entity, entity_key FROM ferry_outbox WHERE state IN ('pending', 'acked')"
                )
                try self.moveCursor(space: space, to: manifest.snapshotSeq, logID: manifest.logID, db)
                let tables = Dictionary(uniqueKeysWithValues: try Self.syncedTables(db).map { ($0.name, $0) })
                for row in keys {
                    guard let table = tables[row[0]] else { continue }
                    do {
                        try self.rebuildVisibleRow(table, key: row[1], appliedSeq: manifest.snapshotSeq, db)
                    } catch let error as DatabaseError where PageWriter.isRefusal(error) {
                        // The row keeps its version from before; the next pull of the record rewrites it.
                        self.logger.warning(
                            "the database refused a row with local changes on the snapshot",
                            metadata: ["ferry.entity": "\(table.name)", "ferry.error": "\(error)"]
                        )
                    }
                }
                try db.execute(sql: "DELETE FROM ferry_bootstrap WHERE space = ?", arguments: [space])
                try db.execute(sql: "DELETE FROM ferry_bootstrap_chunks WHERE space = ?", arguments: [space])
                try db.execute(sql: "DELETE FROM ferry_bootstrap_keys")
            }
        }
        logger.notice(
            "bootstrapped the space from a snapshot",
            metadata: ["ferry.space": "\(space)", "ferry.snapshot_seq": "\(manifest.snapshotSeq)"]
        )
    }

    /// At the end of a bootstrap in place: the records the device had that the snapshot does
    /// not (deleted in the pruned part of the log) leave the shadow and the app's tables.
    /// Rows with local changes pending are rebuilt afterwards from the outbox.
    private func sweepRecordsMissingFromSnapshot(_ db: Database) throws {
        let missing = """
            SELECT entity_key FROM ferry_shadow s WHERE s.entity = ?
              AND NOT EXISTS (SELECT 1 FROM ferry_bootstrap_keys k WHERE k.entity = s.entity AND k.entity_key = s.entity_key)
            """
        for table in try Self.syncedTables(db) {
            try db.execute(
                sql:
                    "DELETE FROM \(table.name.quotedDatabaseIdentifier) WHERE CAST(\(table.keyColumn.quotedDatabaseIdentifier) AS TEXT) IN (\(missing))",
                arguments: [table.name]
            )
        }
        try db.execute(
            sql: """
                DELETE FROM ferry_shadow WHERE NOT EXISTS
                    (SELECT 1 FROM ferry_bootstrap_keys k WHERE k.entity = ferry_shadow.entity AND k.entity_key = ferry_shadow.entity_key)
                """
        )
    }
}
