/// The latest writers of one record, as every store keeps them to report conflicts.
///
/// A conflict is a mutation whose `base_seq` is below the latest write of the same record by
/// a *different* device. Keeping the latest seq, its device, and the latest seq of any other
/// device answers that for any device with one row.
package struct RecordHead: Sendable, Hashable {
    /// The seq of the record's latest write.
    package var seq: Int64
    /// The device that made it.
    package var deviceID: String
    /// The seq of the latest write by any device other than ``deviceID`` (0 if none).
    package var otherSeq: Int64

    /// Creates a head.
    package init(seq: Int64, deviceID: String, otherSeq: Int64) {
        self.seq = seq
        self.deviceID = deviceID
        self.otherSeq = otherSeq
    }

    /// The seq of the latest write by a device other than `device` (0 if none), for a record
    /// whose head is `head` (`nil` for a record never written).
    package static func latestWrite(of head: RecordHead?, notBy device: String) -> Int64 {
        guard let head else { return 0 }
        return head.deviceID == device ? head.otherSeq : head.seq
    }

    /// The head after `device` writes the record at `seq`.
    package static func after(_ head: RecordHead?, write seq: Int64, by device: String) -> RecordHead {
        RecordHead(seq: seq, deviceID: device, otherSeq: latestWrite(of: head, notBy: device))
    }

    /// The conflict report for a mutation of `entity`/`entityKey` based on `baseSeq`, written
    /// by `device` on a record whose head is `head`; `nil` when it has no base or is up to
    /// date with other devices' writes.
    package static func conflict(
        clientActionID: Int64,
        entity: String,
        entityKey: String,
        baseSeq: Int64?,
        by device: String,
        head: RecordHead?
    ) -> ConflictReport? {
        let latest = latestWrite(of: head, notBy: device)
        guard let baseSeq, baseSeq < latest else { return nil }
        return ConflictReport(
            clientActionID: clientActionID,
            entity: entity,
            entityKey: entityKey,
            baseSeq: baseSeq,
            currentSeq: latest
        )
    }
}
