import FerryCore
import Foundation
import GRDB

/// Records as field dictionaries, and what mutations do to them. Pure functions: the same
/// log applied in the same order gives the same record on every device.
enum RecordMath {
    typealias Record = [String: JSONValue]

    /// `record` after `op` with `payload`: upsert replaces, patch merges (a `null` field is
    /// removed), delete removes.
    static func apply(_ op: MutationOp, payload: Record?, to record: Record?) -> Record? {
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
    static func changedFields(_ before: Record?, _ after: Record?) -> Set<String> {
        switch (before, after) {
        case (nil, nil): return []
        case (nil, let after?): return Set(after.keys)
        case (let before?, nil): return Set(before.keys)
        case (let before?, let after?):
            return Set(before.keys).union(after.keys).filter { before[$0] ?? .null != after[$0] ?? .null }
        }
    }

    static func decode(_ text: String?) -> Record? {
        guard let text, let value = try? JSONValue(parsing: text) else { return nil }
        return value.objectValue
    }

    static func encode(_ record: Record?) -> String? {
        record.map { String(decoding: JSONValue.object($0).serialized(), as: UTF8.self) }
    }

    /// The JSON value of an SQL value: blobs become base64 strings.
    static func jsonValue(_ value: DatabaseValue) -> JSONValue {
        switch value.storage {
        case .null: return .null
        case .int64(let number): return .int(number)
        case .double(let number): return .double(number)
        case .string(let text): return .string(text)
        case .blob(let data): return .string(data.base64EncodedString())
        }
    }
}
