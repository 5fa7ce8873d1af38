/// A record of a space: its entity and key. Ordered by entity, then key, comparing UTF-8
/// bytes: the order in which snapshots list records.
public struct RecordKey: Hashable, Sendable, Comparable {
    /// The record type.
    public var entity: String
    /// The record's id within its entity.
    public var key: String

    /// Orders by entity, then key, comparing their UTF-8 bytes.
    public static func < (lhs: RecordKey, rhs: RecordKey) -> Bool {
        if lhs.entity != rhs.entity { return lhs.entity.utf8.lexicographicallyPrecedes(rhs.entity.utf8) }
        return lhs.key.utf8.lexicographicallyPrecedes(rhs.key.utf8)
    }

    /// Creates a key.
    public init(entity: String, key: String) {
        self.entity = entity
        self.key = key
    }
}

/// What appending a batch does to a log, decided in memory from what the store holds: the
/// triples already stored (by client action id, for the batch's device and session) and the
/// current heads of the records the batch writes. Every store (memory, SQLite, PostgreSQL)
/// reads those, makes the plan, and writes what it says, so the rules are one piece of code:
/// - a triple stored before, or earlier in the batch, is a duplicate and gets no seq;
/// - the others get the next seqs in batch order;
/// - each is checked for a conflict against its record's head as it stands after the
///   batch's earlier mutations (``RecordHead/conflict(clientActionID:entity:entityKey:baseSeq:by:head:)``).
package struct AppendPlan {
    /// One outcome per mutation of the batch, in batch order.
    package var outcomes: [AppendOutcome] = []
    /// The conflicts of the mutations to store.
    package var conflicts: [ConflictReport] = []
    /// The mutations to store, with their seqs, in seq order.
    package var accepted: [(seq: Int64, mutation: NewMutation)] = []
    /// The head of every record the batch writes, after the batch, once each, in the order
    /// the records are first written.
    package var heads: [(record: RecordKey, head: RecordHead)] = []
    /// The space's head after the batch.
    package var headSeq: Int64

    /// Plans `batch` against a log whose head is `head`, where the batch's (device, session)
    /// has already stored the client action ids of `stored` (each with its seq), and the
    /// records the batch writes have the heads `current` (a record absent has none).
    package init(_ batch: AppendBatch, head: Int64, stored: [Int64: Int64], heads current: [RecordKey: RecordHead]) {
        var known = stored
        var latest = current
        var order: [RecordKey] = []
        headSeq = head
        outcomes.reserveCapacity(batch.mutations.count)
        accepted.reserveCapacity(batch.mutations.count)
        for mutation in batch.mutations {
            if let seq = known[mutation.clientActionID] {
                outcomes.append(.duplicate(seq: seq))
                // A mutation sent again after a lost answer is told the conflict it met when it
                // was stored, as long as the record's head still shows it (no other device
                // wrote the record since): the lost answer does not lose the conflict.
                let record = RecordKey(entity: mutation.entity, key: mutation.entityKey)
                if seq <= head, let current = latest[record], current.deviceID == batch.deviceID, current.otherSeq < seq,
                    let conflict = RecordHead.conflict(
                        clientActionID: mutation.clientActionID,
                        entity: mutation.entity,
                        entityKey: mutation.entityKey,
                        baseSeq: mutation.baseSeq,
                        by: batch.deviceID,
                        head: current
                    )
                {
                    conflicts.append(conflict)
                }
                continue
            }
            headSeq += 1
            known[mutation.clientActionID] = headSeq
            outcomes.append(.stored(seq: headSeq))
            accepted.append((headSeq, mutation))
            let record = RecordKey(entity: mutation.entity, key: mutation.entityKey)
            let before = latest[record]
            if let conflict = RecordHead.conflict(
                clientActionID: mutation.clientActionID,
                entity: mutation.entity,
                entityKey: mutation.entityKey,
                baseSeq: mutation.baseSeq,
                by: batch.deviceID,
                head: before
            ) {
                conflicts.append(conflict)
            }
            // A record first written by this batch is listed once, in the order of first writes.
            if before.map({ $0.seq <= head }) ?? true { order.append(record) }
            latest[record] = RecordHead.after(before, write: headSeq, by: batch.deviceID)
        }
        heads = order.compactMap { record in latest[record].map { (record, $0) } }
    }
}
