/// A record as stores keep it: its fields by name.
package typealias RecordFields = [String: JSONValue]

/// What mutations do to records, as PROTOCOL.md ("Mutation") fixes it. Pure functions: the
/// same log applied in the same order gives the same record on every device, and the
/// server's snapshots (`FerryLog.SnapshotBuilder`) apply exactly these rules, so a device
/// that bootstraps and a device that replays hold the same rows.
package enum RecordMerge {
    /// `record` after `op` with `payload`:
    /// - upsert replaces the record with the payload (its null members kept as null);
    /// - patch merges shallowly: each top-level member replaces the record's member of that
    ///   name, a member set to null is removed; a patch of a missing or deleted record
    ///   creates it from the patch's non-null members;
    /// - delete removes the record (`nil`).
    package static func apply(_ op: MutationOp, payload: RecordFields?, to record: RecordFields?) -> RecordFields? {
        switch op {
        case .upsert:
            return payload ?? [:]
        case .patch:
            var merged = record ?? [:]
            for (field, value) in payload ?? [:] {
                merged[field] = value == .null ? nil : value
            }
            return merged
        default:
            return nil
        }
    }

    /// The fields whose values differ between two versions; every field of the other
    /// version when one of them is `nil`.
    package static func changedFields(_ before: RecordFields?, _ after: RecordFields?) -> Set<String> {
        switch (before, after) {
        case (nil, nil): return []
        case (nil, let after?): return Set(after.keys)
        case (let before?, nil): return Set(before.keys)
        case (let before?, let after?):
            return Set(before.keys).union(after.keys).filter { before[$0] ?? .null != after[$0] ?? .null }
        }
    }
}
