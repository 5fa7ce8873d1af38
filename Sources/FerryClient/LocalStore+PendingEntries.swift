import FerryCore
import GRDB

extension LocalStore {
    /// A local mutation of a record that the shadow does not have yet.
    struct PendingEntry {
        var clientActionID: Int64
        var op: MutationOp
        var payload: RecordFields?
        /// The server took it, with a seq the cursor has not reached.
        var acked: Bool
        /// Ferry wrote it to settle a conflict.
        var settles: Bool

        /// The fields it changes; `nil` for all of them.
        var fields: Set<String>? { op == .patch ? Set((payload ?? [:]).keys) : nil }
    }

    /// Local mutations of a record not yet in the shadow: unpushed ones, and acknowledged
    /// ones whose seq is above `seq`, oldest first.
    func pendingEntries(_ entity: String, _ key: String, after seq: Int64, _ db: Database) throws -> [PendingEntry] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT client_action_id, op, payload, state, settles FROM ferry_outbox
                    WHERE entity = ? AND entity_key = ? AND (state = 'pending' OR (state = 'acked' AND server_seq > ?))
                    ORDER BY client_action_id
                    """
            ),
            arguments: [entity, key, seq]
        ).map { row in
            PendingEntry(
                clientActionID: row[0],
                op: MutationOp(rawValue: row[1]),
                payload: try RecordCodec.decodeCaptured(row[2]),
                acked: (row[3] as String) == "acked",
                settles: row[4]
            )
        }
    }
}
