import FerryCore
import GRDB
import Logging

extension LocalStore {
    /// What applying a page did.
    public struct ApplyReport: Sendable, Hashable {
        /// Mutations applied (own echoes included).
        public var applied = 0
        /// Conflicts recorded.
        public var conflicts = 0
        /// Mutations that went to the dead letters.
        public var deadLetters = 0
    }

    /// Applies a pulled page in one transaction: the shadow and the app's rows change, own
    /// echoes confirm outbox entries, conflicts are recorded and settled by each table's
    /// policy, mutations the database refuses go to the dead letters, and the cursor moves to
    /// the page's `latest_seq`. Mutations at or below the cursor are skipped, so a page
    /// applied twice changes nothing the second time.
    /// - Throws: ``LocalStoreError`` `logChanged` when the page's `log_id` differs from the
    ///   cursor's (the caller resets the space first), `corruptData` when a stored record
    ///   does not read; database errors other than a refused row (busy, I/O). After an
    ///   error nothing of the page was applied.
    @discardableResult
    public func apply(_ page: PullResponse, space: String) throws -> ApplyReport {
        try writer.write { db in try self.apply(page, space: space, db) }
    }

    /// Applies a pulled page in one transaction; see ``apply(_:space:)``.
    @discardableResult
    public func apply(_ page: PullResponse, space: String) async throws -> ApplyReport {
        try await writer.write { db in try self.apply(page, space: space, db) }
    }

    /// The state of one page's application: where it goes, the writer its rows wait in, and
    /// what it did so far.
    private struct PagePass {
        let space: String
        let writer: PageWriter
        let db: Database
        var report = ApplyReport()
    }

    /// What the page's application knows of a mutation's record before applying it.
    private struct Target {
        /// The record's table; `nil` when the table is not registered (the record is kept in
        /// the shadow, and written when it is).
        var table: SyncedTable?
        var policy: ConflictPolicy
        /// Local changes of the record wait in the outbox.
        var hasPending: Bool
    }

    private func apply(_ page: PullResponse, space: String, _ db: Database) throws -> ApplyReport {
        let cursor = try Self.cursor(space: space, db)
        if let stored = cursor.logID, stored != page.logID {
            throw LocalStoreError(.logChanged, "the server's log_id changed from \(stored) to \(page.logID): reset first")
        }
        let tables = Dictionary(uniqueKeysWithValues: try Self.syncedTables(db).map { ($0.name, $0) })
        let storedPolicies = Dictionary(
            uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT name, policy FROM ferry_tables").map {
                ($0[0] as String, $0[1] as String)
            }
        )
        var pendingKeys = Set<String>()
        for row in try Row.fetchAll(db, sql: "SELECT DISTINCT entity, entity_key FROM ferry_outbox WHERE state IN ('pending', 'acked')") {
            pendingKeys.insert(Self.recordID(row[0], row[1]))
        }
        var pass = PagePass(space: space, writer: PageWriter(db), db: db)
        try withApplyGuard(db) {
            for mutation in page.mutations where mutation.seq > cursor.lastSeq {
                let target = Target(
                    table: tables[mutation.entity],
                    policy: self.policy(for: mutation.entity, stored: storedPolicies[mutation.entity] ?? ""),
                    hasPending: !pendingKeys.isEmpty && pendingKeys.contains(Self.recordID(mutation.entity, mutation.entityKey))
                )
                try self.applyOne(mutation, to: target, &pass)
            }
            try self.flush(&pass)
            try self.moveCursor(
                space: space,
                to: max(cursor.lastSeq, page.latestSeq),
                logID: page.logID,
                headSeq: page.headSeq,
                db
            )
        }
        return pass.report
    }

    private static func recordID(_ entity: String, _ key: String) -> String { "\(entity)\u{0}\(key)" }

    /// Applies one mutation: its record's new version goes to the shadow, an echo confirms
    /// its outbox entry, another device's change is checked for conflicts, and the app's
    /// row is written.
    private func applyOne(_ mutation: LoggedMutation, to target: Target, _ pass: inout PagePass) throws {
        guard Self.isWellFormed(mutation) else {
            try flush(&pass)  // earlier dead letters first
            try deadLetter(
                mutation,
                error: "malformed mutation: op \(mutation.op) with payload \(String(describing: mutation.payload))",
                &pass
            )
            return
        }
        let isEcho = mutation.deviceID == deviceID
        let before = try shadowBefore(mutation, isEcho: isEcho, hasPending: target.hasPending, &pass)
        let after = RecordMerge.apply(mutation.op, payload: mutation.payload?.objectValue, to: before)
        try pass.writer.bufferShadow(entity: mutation.entity, key: mutation.entityKey, record: after, seq: mutation.seq)
        pass.report.applied += 1

        if isEcho {
            try confirmEcho(mutation, pass.db)
        } else if target.hasPending, let table = target.table,
            try settleIfConflicting(mutation, table: table, policy: target.policy, before: before, after: after, pass.db)
        {
            pass.report.conflicts += 1
        }
        guard let table = target.table else { return }
        try writeAppRow(mutation, table: table, record: after, hasPending: target.hasPending, &pass)
    }

    /// A known operation, with an object payload unless it deletes.
    private static func isWellFormed(_ mutation: LoggedMutation) -> Bool {
        mutation.op.isKnown && (mutation.op == .delete || mutation.payload?.objectValue != nil)
    }

    /// The shadow's version of the record before `mutation`, read only where it matters: to
    /// a patch, and to the conflict check of another device's change to a record with local
    /// changes pending. What waits in the writer is flushed first whenever what follows
    /// reads the shadow or the app's rows.
    private func shadowBefore(
        _ mutation: LoggedMutation,
        isEcho: Bool,
        hasPending: Bool,
        _ pass: inout PagePass
    ) throws -> RecordFields? {
        let needsBefore = mutation.op == .patch || (hasPending && !isEcho)
        if needsBefore || hasPending { try flush(&pass) }
        guard needsBefore else { return nil }
        return try RecordCodec.decode(
            try String.fetchOne(
                pass.db.cachedStatement(sql: "SELECT row FROM ferry_shadow WHERE entity = ? AND entity_key = ?"),
                arguments: [mutation.entity, mutation.entityKey]
            )
        )
    }

    /// Our own mutation came back: the log itself confirms the outbox entry, even when the
    /// push's answer was lost.
    private func confirmEcho(_ mutation: LoggedMutation, _ db: Database) throws {
        try db.cachedStatement(
            sql:
                "UPDATE ferry_outbox SET state = 'acked', server_seq = ? WHERE client_action_id = ? AND session_id = ? AND state <> 'rejected'"
        ).execute(arguments: [mutation.seq, mutation.clientActionID, mutation.sessionID])
    }

    /// Writes the app's row of `mutation`'s record: `record` itself when nothing local waits
    /// for it (buffered with the page's other rows of the same shape), else the record with
    /// the pending local changes replayed. A row the database refuses sends the mutation to
    /// the dead letters.
    private func writeAppRow(
        _ mutation: LoggedMutation,
        table: SyncedTable,
        record: RecordFields?,
        hasPending: Bool,
        _ pass: inout PagePass
    ) throws {
        // App rows are written by statements SQLite makes atomic: when the database refuses
        // one (a constraint, a trigger's RAISE(ABORT)), its changes are undone and the page's
        // transaction goes on, so no savepoint is needed per row.
        if !hasPending, let record {
            try pass.writer.bufferRow(table, key: mutation.entityKey, record: record, for: mutation)
            return
        }
        try flush(&pass)
        do {
            if hasPending {
                try rebuildVisibleRow(table, key: mutation.entityKey, appliedSeq: mutation.seq, pass.db)
            } else {
                try Self.writeRow(table, key: mutation.entityKey, record: record, pass.db)
            }
        } catch let error as DatabaseError where PageWriter.isRefusal(error) {
            try deadLetter(mutation, error: error.message ?? error.description, &pass)
        }
    }

    /// Moves the cursor of `space` past the page; confirmed local mutations it passes are
    /// part of the shadow now, and leave the outbox. `headSeq`, the head the server
    /// answered with, is kept for the status (the last one stays when it is `nil`).
    func moveCursor(space: String, to latest: Int64, logID: String, headSeq: Int64? = nil, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO ferry_cursor (space, last_seq, log_id, pulled_at, head_seq) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (space) DO UPDATE SET last_seq = excluded.last_seq, log_id = excluded.log_id,
                    pulled_at = excluded.pulled_at, head_seq = coalesce(excluded.head_seq, ferry_cursor.head_seq)
                """,
            arguments: [space, latest, logID, RFC3339.format(millisecondsSince1970: clock.nowMilliseconds()), headSeq]
        )
        try db.execute(sql: "DELETE FROM ferry_outbox WHERE state = 'acked' AND server_seq <= ?", arguments: [latest])
    }

    /// Writes the rows that wait in the page's writer; the mutations whose rows the database
    /// refuses go to the dead letters.
    private func flush(_ pass: inout PagePass) throws {
        for refused in try pass.writer.flush() {
            try deadLetter(refused.mutation, error: refused.error.message ?? refused.error.description, &pass)
        }
    }

    /// Keeps a mutation this device cannot apply in the dead letters.
    private func deadLetter(_ mutation: LoggedMutation, error: String, _ pass: inout PagePass) throws {
        // Counted in the apply report and the sync status: one line per mutation is for debugging.
        logger.debug(
            "could not apply a remote mutation; it is kept in the dead letters",
            metadata: [
                "ferry.space": "\(pass.space)", "ferry.seq": "\(mutation.seq)", "ferry.entity": "\(mutation.entity)",
                "ferry.error": "\(error)",
            ]
        )
        try insertDeadLetter(mutation, error: error, space: pass.space, pass.db)
        pass.report.deadLetters += 1
    }

    /// Writes `mutation` into the dead letters of `space` with `error`.
    func insertDeadLetter(_ mutation: LoggedMutation, error: String, space: String, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO ferry_dead_letters (space, seq, entity, entity_key, op, payload, device_id, error, failed_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (space, seq) DO UPDATE SET error = excluded.error, failed_at = excluded.failed_at
                """,
            arguments: [
                space, mutation.seq, mutation.entity, mutation.entityKey, mutation.op.rawValue,
                mutation.payload.map { String(decoding: $0.serialized(), as: UTF8.self) }, mutation.deviceID, error,
                RFC3339.format(millisecondsSince1970: clock.nowMilliseconds()),
            ]
        )
    }
}
