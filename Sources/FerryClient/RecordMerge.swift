import FerryCore

/// A record as the store keeps it: its fields by name.
typealias RecordFields = [String: JSONValue]

/// What mutations do to records. Pure functions: the same log applied in the same order
/// gives the same record on every device.
enum RecordMerge {
    /// `record` after `op` with `payload`: upsert replaces, patch merges (a `null` field is
    /// removed), delete removes.
    static func apply(_ op: MutationOp, payload: RecordFields?, to record: RecordFields?) -> RecordFields? {
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
    static func changedFields(_ before: RecordFields?, _ after: RecordFields?) -> Set<String> {
        switch (before, after) {
        case (nil, nil): return []
        case (nil, let after?): return Set(after.keys)
        case (let before?, nil): return Set(before.keys)
        case (let before?, let after?):
            return Set(before.keys).union(after.keys).filter { before[$0] ?? .null != after[$0] ?? .null }
        }
    }
}
