import FerryCore
import GRDB

extension LocalStore {
    /// How a person settles a recorded conflict.
    public enum ConflictChoice: String, Sendable, CaseIterable {
        /// Keep the record as it is now.
        case keep
        /// Write the conflict's local version again, as a new local mutation.
        case local
        /// Write the conflict's remote version again, as a new local mutation.
        case remote
    }

    /// The recorded conflicts, newest first; only those not yet acknowledged when
    /// `unacknowledgedOnly`.
    /// - Throws: ``LocalStoreError`` `corruptData` when a stored version does not read.
    public func conflicts(unacknowledgedOnly: Bool = false) throws -> [ConflictRecord] {
        try writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, entity, entity_key, local, remote, base_seq, local_seq, remote_seq, detected_at, resolution, acknowledged_at
                    FROM ferry_conflicts \(unacknowledgedOnly ? "WHERE acknowledged_at IS NULL" : "") ORDER BY id DESC
                    """
            ).map { row in
                ConflictRecord(
                    id: row[0],
                    entity: row[1],
                    entityKey: row[2],
                    local: try RecordCodec.decode(row[3]).map(JSONValue.object),
                    remote: try RecordCodec.decode(row[4]).map(JSONValue.object),
                    baseSeq: row[5],
                    localSeq: row[6],
                    remoteSeq: row[7],
                    detectedAt: row[8],
                    resolution: ConflictResolution(rawValue: row[9]),
                    acknowledgedAt: row[10]
                )
            }
        }
    }

    /// Acknowledges conflict `id`, and with `.local` or `.remote` writes that version of the
    /// record as a new local change (captured into the outbox like any app write).
    /// - Throws: ``LocalStoreError`` `unknownConflict` when no conflict has that id,
    ///   `unknownTable` when its table is no longer registered.
    public func resolveConflict(id: Int64, choice: ConflictChoice) throws {
        try writer.write { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT entity, entity_key, local, remote FROM ferry_conflicts WHERE id = ?",
                    arguments: [id]
                )
            else { throw LocalStoreError(.unknownConflict, "no conflict \(id)") }
            let (entity, key): (String, String) = (row[0], row[1])
            if choice != .keep {
                guard let table = try Self.syncedTables(db).first(where: { $0.name == entity }) else {
                    throw LocalStoreError(.unknownTable, "table '\(entity)' is not registered")
                }
                let version = try RecordCodec.decode(choice == .local ? row[2] : row[3])
                try Self.writeRow(table, key: key, record: version, db)  // captured by the triggers
            }
            try db.execute(
                sql: "UPDATE ferry_conflicts SET acknowledged_at = ? WHERE id = ?",
                arguments: [RFC3339.format(millisecondsSince1970: clock.nowMilliseconds()), id]
            )
        }
    }

    /// Settles and records a conflict when another device's `mutation`, which took the
    /// record from `before` to `after`, changed fields that pending local changes also
    /// change.
    /// - Returns: Whether there was a conflict.
    func settleIfConflicting(
        _ mutation: LoggedMutation,
        table: SyncedTable,
        policy: ConflictPolicy,
        before: RecordFields?,
        after: RecordFields?,
        _ db: Database
    ) throws -> Bool {
        let pending = try pendingEntries(table.name, mutation.entityKey, after: mutation.seq, db)
        let remoteFields = RecordMerge.changedFields(before, after)
        let conflicting = pending.filter { entry in
            guard let fields = entry.fields else { return !remoteFields.isEmpty }
            return !fields.isDisjoint(with: remoteFields)
        }
        guard !conflicting.isEmpty else { return false }
        if conflicting.allSatisfy({ $0.acked && $0.settles }) {
            // Our settlement of an earlier conflict is ordered after this change already: it
            // stands, and is not settled again (devices would otherwise answer each other's
            // settlements forever).
            try recordConflict(
                entity: table.name,
                key: mutation.entityKey,
                local: try visibleRow(table, key: mutation.entityKey, db),
                remote: after,
                baseSeq: nil,
                localSeq: nil,
                remoteSeq: mutation.seq,
                resolution: .localWins,
                db
            )
            return true
        }
        try settleConflict(mutation, table: table, policy: policy, remote: after, remoteFields: remoteFields, conflicting: conflicting, db)
        return true
    }

    /// Settles a conflict by `policy` and records it.
    private func settleConflict(
        _ mutation: LoggedMutation,
        table: SyncedTable,
        policy: ConflictPolicy,
        remote: RecordFields?,
        remoteFields: Set<String>,
        conflicting: [PendingEntry],
        _ db: Database
    ) throws {
        let local = try visibleRow(table, key: mutation.entityKey, db)
        var fields = Set<String>()
        for entry in conflicting { fields.formUnion(entry.fields.map { $0.intersection(remoteFields) } ?? remoteFields) }
        let resolution: ConflictResolution
        switch policy {
        case .lastWriterWins:
            resolution = .localWins
        case .remoteWins:
            try letRemoteWin(
                mutation,
                table: table,
                remote: remote,
                remoteFields: remoteFields,
                fields: fields,
                conflicting: conflicting,
                db
            )
            resolution = .remoteWins
        case .custom(let resolver):
            let context = ConflictContext(
                entity: table.name,
                entityKey: mutation.entityKey,
                local: local,
                remote: remote,
                remoteSeq: mutation.seq,
                fields: fields
            )
            var merged = resolver(context)
            // The resolver sees the app's columns only: fields of columns this device does
            // not have (a newer app version's) stay as the remote record has them.
            if var record = merged, let remote {
                for (field, value) in remote where !table.columns.contains(field) && record[field] == nil { record[field] = value }
                merged = record
            }
            merged = merged.map(table.outgoing)
            for entry in conflicting where !entry.acked { try dropOutboxEntry(entry.clientActionID, db) }
            try enqueue(table.name, mutation.entityKey, merged == nil ? .delete : .upsert, merged, baseSeq: mutation.seq, db)
            resolution = .merged
        }
        try recordConflict(
            entity: table.name,
            key: mutation.entityKey,
            local: local,
            remote: remote,
            baseSeq: nil,
            localSeq: nil,
            remoteSeq: mutation.seq,
            resolution: resolution,
            db
        )
    }

    /// The remote change wins over the conflicting local ones: those not pushed yet lose the
    /// fields it changed (or are dropped); those the server already ordered after it are
    /// overridden by a new local mutation that restores the remote values.
    private func letRemoteWin(
        _ mutation: LoggedMutation,
        table: SyncedTable,
        remote: RecordFields?,
        remoteFields: Set<String>,
        fields: Set<String>,
        conflicting: [PendingEntry],
        _ db: Database
    ) throws {
        for entry in conflicting {
            if entry.acked {
                // An acknowledged settlement stands (see settleIfConflicting).
                guard !entry.settles else { continue }
                if let remote, entry.op == .patch {
                    var restore: RecordFields = [:]
                    for field in fields { restore[field] = remote[field] ?? .null }
                    try enqueue(table.name, mutation.entityKey, .patch, restore, baseSeq: mutation.seq, db)
                } else {
                    try enqueue(table.name, mutation.entityKey, remote == nil ? .delete : .upsert, remote, baseSeq: mutation.seq, db)
                }
            } else if entry.op == .patch, remote != nil, var payload = entry.payload {
                // Keep the fields the remote change did not touch.
                for field in remoteFields { payload[field] = nil }
                if payload.isEmpty {
                    try dropOutboxEntry(entry.clientActionID, db)
                } else {
                    try db.execute(
                        sql: "UPDATE ferry_outbox SET payload = ? WHERE client_action_id = ?",
                        arguments: [RecordCodec.encode(payload), entry.clientActionID]
                    )
                }
            } else {
                try dropOutboxEntry(entry.clientActionID, db)
            }
        }
    }

    private func dropOutboxEntry(_ clientActionID: Int64, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM ferry_outbox WHERE client_action_id = ? AND state = 'pending'", arguments: [clientActionID])
    }

    /// Adds a mutation made by Ferry itself (a conflict's resolution) to the outbox, marked
    /// as a settlement.
    func enqueue(_ entity: String, _ key: String, _ op: MutationOp, _ payload: RecordFields?, baseSeq: Int64, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO ferry_outbox (session_id, entity, entity_key, op, payload, base_seq, created_at, settles)
                VALUES (?, ?, ?, ?, ?, ?, ?, 1)
                """,
            arguments: [
                sessionID, entity, key, op.rawValue, op == .delete ? nil : RecordCodec.encode(payload), baseSeq,
                RFC3339.format(millisecondsSince1970: clock.nowMilliseconds()),
            ]
        )
    }

    /// Records a conflict; a conflict already recorded for the same remote change (reported
    /// by the push, then found by the pull) is completed, not repeated.
    func recordConflict(
        entity: String,
        key: String,
        local: RecordFields?,
        remote: RecordFields?,
        baseSeq: Int64?,
        localSeq: Int64?,
        remoteSeq: Int64,
        resolution: ConflictResolution,
        _ db: Database
    ) throws {
        try db.execute(
            sql: """
                INSERT INTO ferry_conflicts (entity, entity_key, local, remote, base_seq, local_seq, remote_seq, detected_at, resolution)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (entity, entity_key, remote_seq) DO UPDATE SET
                    local = coalesce(excluded.local, local), remote = excluded.remote,
                    base_seq = coalesce(excluded.base_seq, base_seq), local_seq = coalesce(excluded.local_seq, local_seq),
                    resolution = CASE WHEN excluded.resolution = 'reported' THEN resolution ELSE excluded.resolution END
                """,
            arguments: [
                entity, key, RecordCodec.encode(local), RecordCodec.encode(remote), baseSeq, localSeq, remoteSeq,
                RFC3339.format(millisecondsSince1970: clock.nowMilliseconds()), resolution.rawValue,
            ]
        )
    }
}
