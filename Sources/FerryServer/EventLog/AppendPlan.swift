import FerryCore

/// A record of a space: its entity and key.
struct RecordKey: Hashable, Sendable {
    var entity: String
    var key: String
}

/// What appending a batch does to a log, decided in memory from what the store holds: the
/// triples already stored (by client action id, for the batch's device and session) and the
/// current heads of the records the batch writes. Every store reads those, makes the plan,
/// and writes what it says, so the rules are one piece of code:
/// - a triple stored before, or earlier in the batch, is a duplicate and gets no seq;
/// - the others get the next seqs in batch order;
/// - each is checked for a conflict against its record's head as it stands after the
///   batch's earlier mutations (``RecordHead/conflict(clientActionID:entity:entityKey:baseSeq:by:head:)``).
struct AppendPlan {
    /// One outcome per mutation of the batch, in batch order.
    var outcomes: [AppendOutcome] = []
    /// The conflicts of the mutations to store.
    var conflicts: [ConflictReport] = []
    /// The mutations to store, with their seqs, in seq order.
    var accepted: [(seq: Int64, mutation: NewMutation)] = []
    /// The head of every record the batch writes, after the batch, once each, in the order
    /// the records are first written.
    var heads: [(record: RecordKey, head: RecordHead)] = []
    /// The space's head after the batch.
    var headSeq: Int64

    init(_ batch: AppendBatch, head: Int64, stored: [Int64: Int64], heads current: [RecordKey: RecordHead]) {
        var known = stored
        var latest = current
        var order: [RecordKey] = []
        headSeq = head
        outcomes.reserveCapacity(batch.mutations.count)
        accepted.reserveCapacity(batch.mutations.count)
        for mutation in batch.mutations {
            if let seq = known[mutation.clientActionID] {
                outcomes.append(.duplicate(seq: seq))
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
            if before == nil || before!.seq <= head { order.append(record) }
            latest[record] = RecordHead.after(before, write: headSeq, by: batch.deviceID)
        }
        heads = order.map { ($0, latest[$0]!) }
    }
}
