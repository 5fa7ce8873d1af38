import FerryCore
import GRDB

extension LocalStore {
    /// A push request built from the outbox, and the entries it carries.
    public struct OutboxBatch: Sendable, Hashable {
        /// The request to send.
        public var request: PushRequest
    }

    /// The next pushable entries, oldest first, at most `limit`, all of one session (a push
    /// carries one `session_id`); `nil` when nothing waits.
    public func nextPushBatch(space: String, limit: Int) throws -> OutboxBatch? {
        try writer.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT client_action_id, session_id, entity, entity_key, op, payload, base_seq, created_at
                    FROM ferry_outbox WHERE state = 'pending' ORDER BY client_action_id LIMIT ?
                    """,
                arguments: [limit]
            )
            guard let session = rows.first?[1] as String? else { return nil }
            let mutations = rows.prefix { ($0[1] as String) == session }.map { row in
                MutationInput(
                    clientActionID: row[0],
                    entity: row[2],
                    entityKey: row[3],
                    op: MutationOp(rawValue: row[4]),
                    payload: RecordMath.decode(row[5]).map(JSONValue.object),
                    baseSeq: row[6],
                    clientTimestamp: row[7]
                )
            }
            return OutboxBatch(
                request: PushRequest(space: space, deviceID: deviceID, sessionID: session, mutations: mutations)
            )
        }
    }

    /// Records the server's answer to a push: an entry is confirmed only by its own ack or
    /// `duplicate` (with the seq it is stored under); an `invalid` one is kept as rejected
    /// with the reason; reported conflicts are recorded.
    public func recordPushResult(_ response: PushResponse, for batch: OutboxBatch) async throws {
        try await writer.write { db in
            let session = batch.request.sessionID
            let confirm = try db.cachedStatement(
                sql:
                    "UPDATE ferry_outbox SET state = 'acked', server_seq = ? WHERE client_action_id = ? AND session_id = ? AND state = 'pending'"
            )
            for ack in response.acks {
                try confirm.execute(arguments: [ack.seq, ack.clientActionID, session])
            }
            for rejection in response.rejected {
                if rejection.reason == .duplicate, let seq = rejection.seq {
                    try confirm.execute(arguments: [seq, rejection.clientActionID, session])
                } else if rejection.reason == .invalid {
                    try db.execute(
                        sql: "UPDATE ferry_outbox SET state = 'rejected', reason = ? WHERE client_action_id = ? AND session_id = ?",
                        arguments: [rejection.message ?? "invalid", rejection.clientActionID, session]
                    )
                    self.logger.warning(
                        "the server rejected a local mutation; it is kept with the reason",
                        metadata: ["client_action_id": "\(rejection.clientActionID)", "reason": "\(rejection.message ?? "")"]
                    )
                }
            }
            let sent = Dictionary(uniqueKeysWithValues: batch.request.mutations.map { ($0.clientActionID, $0) })
            let seqs = Dictionary(uniqueKeysWithValues: response.acks.map { ($0.clientActionID, $0.seq) })
            for conflict in response.conflicts {
                let remote = RecordMath.decode(
                    try String.fetchOne(
                        db,
                        sql: "SELECT row FROM ferry_shadow WHERE entity = ? AND entity_key = ?",
                        arguments: [conflict.entity, conflict.entityKey]
                    )
                )
                try self.recordConflict(
                    entity: conflict.entity,
                    key: conflict.entityKey,
                    local: sent[conflict.clientActionID]?.payload?.objectValue,
                    remote: remote,
                    baseSeq: conflict.baseSeq,
                    localSeq: seqs[conflict.clientActionID],
                    remoteSeq: conflict.currentSeq,
                    resolution: .reported,
                    db
                )
            }
        }
    }

    // MARK: Lease

    /// Takes or renews the sync lease for `owner` until `duration` from now; `false` when
    /// another owner holds an unexpired one.
    public func acquireLease(owner: String, duration: Duration) async throws -> Bool {
        let now = clock.nowMilliseconds()
        let (seconds, attoseconds) = duration.components
        let expires = now + seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return try await writer.write { db in
            if let row = try Row.fetchOne(db, sql: "SELECT owner, expires_at FROM ferry_lease WHERE id = 1"),
                (row[0] as String) != owner, (row[1] as Int64) > now
            {
                return false
            }
            try db.execute(
                sql: """
                    INSERT INTO ferry_lease (id, owner, expires_at) VALUES (1, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
                    """,
                arguments: [owner, expires]
            )
            return true
        }
    }

    /// Gives up the lease if `owner` holds it.
    public func releaseLease(owner: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM ferry_lease WHERE id = 1 AND owner = ?", arguments: [owner])
        }
    }

    /// Who holds the lease and until when (milliseconds since 1970), if anyone does.
    public func leaseHolder() throws -> (owner: String, expiresAt: Int64)? {
        try writer.read { db in
            try Row.fetchOne(db, sql: "SELECT owner, expires_at FROM ferry_lease WHERE id = 1").map { ($0[0], $0[1]) }
        }
    }

    // MARK: Conflicts

    /// The recorded conflicts, newest first; only those not yet acknowledged when
    /// `unacknowledgedOnly`.
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
                    local: RecordMath.decode(row[3]).map(JSONValue.object),
                    remote: RecordMath.decode(row[4]).map(JSONValue.object),
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

    /// How a person settles a recorded conflict.
    public enum ConflictChoice: String, Sendable, CaseIterable {
        /// Keep the record as it is now.
        case keep
        /// Write the conflict's local version again, as a new local mutation.
        case local
        /// Write the conflict's remote version again, as a new local mutation.
        case remote
    }

    /// Acknowledges conflict `id`, and with `.local` or `.remote` writes that version of the
    /// record as a new local change (captured into the outbox like any app write).
    public func resolveConflict(id: Int64, choice: ConflictChoice) throws {
        try writer.write { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT entity, entity_key, local, remote FROM ferry_conflicts WHERE id = ?",
                    arguments: [id]
                )
            else { throw FerryError(.notFound, "no conflict \(id)") }
            let (entity, key): (String, String) = (row[0], row[1])
            if choice != .keep {
                guard let table = try Self.syncedTables(db).first(where: { $0.name == entity }) else {
                    throw FerryError(.notFound, "table '\(entity)' is not registered")
                }
                let version = RecordMath.decode(choice == .local ? row[2] : row[3])
                try Self.writeRow(table, key: key, record: version, db)  // captured by the triggers
            }
            try db.execute(
                sql: "UPDATE ferry_conflicts SET acknowledged_at = ? WHERE id = ?",
                arguments: [RFC3339.format(millisecondsSince1970: clock.nowMilliseconds()), id]
            )
        }
    }
}
