import FerryCore
import GRDB
import Logging

extension LocalStore {
    /// A push request built from the outbox, and the entries it carries.
    public struct OutboxBatch: Sendable, Hashable {
        /// The request to send.
        public var request: PushRequest
    }

    /// An outbox entry the server rejected as invalid, kept with the reason.
    public struct RejectedMutation: Sendable, Hashable {
        /// The entry's id in the outbox (the mutation's `client_action_id`).
        public var clientActionID: Int64
        /// The table it changed.
        public var entity: String
        /// The record's key.
        public var entityKey: String
        /// The server's reason; empty when it gave none.
        public var reason: String

        /// Creates a rejected mutation.
        public init(clientActionID: Int64, entity: String, entityKey: String, reason: String) {
            self.clientActionID = clientActionID
            self.entity = entity
            self.entityKey = entityKey
            self.reason = reason
        }
    }

    /// The next pushable entries, oldest first, at most `limit`, all of one session (a push
    /// carries one `session_id`); `nil` when nothing waits.
    /// - Throws: ``LocalStoreError`` `corruptData` when an entry's stored payload does not read.
    public func nextPushBatch(space: String, limit: Int) throws -> OutboxBatch? {
        try writer.read { db in try self.nextPushBatch(space: space, limit: limit, db) }
    }

    /// The next pushable entries; see ``nextPushBatch(space:limit:)``.
    public func nextPushBatch(space: String, limit: Int) async throws -> OutboxBatch? {
        try await writer.read { db in try self.nextPushBatch(space: space, limit: limit, db) }
    }

    private func nextPushBatch(space: String, limit: Int, _ db: Database) throws -> OutboxBatch? {
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT client_action_id, session_id, entity, entity_key, op, payload, base_seq, created_at
                FROM ferry_outbox WHERE state = 'pending' ORDER BY client_action_id LIMIT ?
                """,
            arguments: [limit]
        )
        guard let session = rows.first?[1] as String? else { return nil }
        let mutations = try rows.prefix { ($0[1] as String) == session }.map { row in
            MutationInput(
                clientActionID: row[0],
                entity: row[2],
                entityKey: row[3],
                op: MutationOp(rawValue: row[4]),
                payload: try RecordCodec.decodeCaptured(row[5]).map(JSONValue.object),
                baseSeq: row[6],
                clientTimestamp: row[7]
            )
        }
        return OutboxBatch(request: PushRequest(space: space, deviceID: deviceID, sessionID: session, mutations: mutations))
    }

    /// Records the server's answer to a push: an entry is confirmed only by its own ack or
    /// `duplicate` (with the seq it is stored under); an `invalid` one is kept as rejected
    /// with the reason; reported conflicts are recorded.
    public func recordPushResult(_ response: PushResponse, for batch: OutboxBatch) async throws {
        try await writer.write { db in
            try self.learnLogID(space: batch.request.space, from: response, db)
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
                    // Counted in the sync status (`rejected`): one line per mutation is for debugging.
                    self.logger.debug(
                        "the server rejected a local mutation; it is kept with the reason",
                        metadata: ["ferry.client_action_id": "\(rejection.clientActionID)", "ferry.reason": "\(rejection.message ?? "")"]
                    )
                }
            }
            try self.confirmCoveredAcks(space: batch.request.space, response: response, db)
            let sent = Dictionary(uniqueKeysWithValues: batch.request.mutations.map { ($0.clientActionID, $0) })
            let seqs = Dictionary(uniqueKeysWithValues: response.acks.map { ($0.clientActionID, $0.seq) })
            for conflict in response.conflicts {
                let remote = try RecordCodec.decode(
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

    /// A device that has pushed but not yet pulled learns the log's id from the push's
    /// answer: its acknowledgements belong to that log. If the log is replaced before the
    /// device's first pull, the pull then sees another `log_id`, resets, and pushes the
    /// acknowledged entries again into the new log; without the id, they stayed acknowledged
    /// for a log that no longer exists and never reached the new one.
    private func learnLogID(space: String, from response: PushResponse, _ db: Database) throws {
        // Once per push answer: a cached statement.
        try db.cachedStatement(
            sql: """
                INSERT INTO ferry_cursor (space, last_seq, log_id) VALUES (?, 0, ?)
                ON CONFLICT (space) DO UPDATE SET log_id = excluded.log_id WHERE ferry_cursor.log_id IS NULL
                """
        ).execute(arguments: [space, response.logID])
    }

    /// Entries the server says it stored at or below the cursor (a mutation sent again whose
    /// first answer was lost, answered `duplicate` after the device pulled past its seq) are
    /// in the shadow already: they leave the outbox, and their rows are written again without
    /// them. Until then their rows showed them replayed over later remote changes, as if they
    /// came after.
    private func confirmCoveredAcks(space: String, response: PushResponse, _ db: Database) throws {
        // Only this answer's seqs can be newly covered: acknowledgements the cursor passed
        // earlier left the outbox when it moved (`moveCursor`). Most answers have none at or
        // below the cursor, and cost no query of the outbox.
        let told = response.acks.map(\.seq) + response.rejected.compactMap { $0.reason == .duplicate ? $0.seq : nil }
        guard let lowest = told.min() else { return }
        let cursor = try Self.cursor(space: space, db)
        guard cursor.logID == response.logID, cursor.lastSeq > 0, lowest <= cursor.lastSeq else { return }
        let covered = try Row.fetchAll(
            db,
            sql: "SELECT DISTINCT entity, entity_key FROM ferry_outbox WHERE state = 'acked' AND server_seq <= ?",
            arguments: [cursor.lastSeq]
        )
        guard !covered.isEmpty else { return }
        try db.execute(sql: "DELETE FROM ferry_outbox WHERE state = 'acked' AND server_seq <= ?", arguments: [cursor.lastSeq])
        let tables = Dictionary(uniqueKeysWithValues: try Self.syncedTables(db).map { ($0.name, $0) })
        try withApplyGuard(db) {
            for row in covered {
                guard let table = tables[row[0]] else { continue }
                do {
                    try rebuildVisibleRow(table, key: row[1], appliedSeq: cursor.lastSeq, db)
                } catch let error as DatabaseError where PageWriter.isRefusal(error) {
                    logger.warning(
                        "the database refused a row rewritten after a late acknowledgement",
                        metadata: ["ferry.entity": "\(table.name)", "ferry.error": "\(error)"]
                    )
                }
            }
        }
    }

    /// The outbox entries the server rejected, with their reasons, oldest first.
    public func rejectedMutations() throws -> [RejectedMutation] {
        try writer.read { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT client_action_id, entity, entity_key, coalesce(reason, '') FROM ferry_outbox WHERE state = 'rejected' ORDER BY client_action_id"
            ).map { RejectedMutation(clientActionID: $0[0], entity: $0[1], entityKey: $0[2], reason: $0[3]) }
        }
    }
}
