import FerryCore
import Foundation
import GRDB

/// Records in the store's columns: the JSON text of the shadow, the outbox and the
/// conflicts, and the JSON value of an app row's SQL values.
enum RecordCodec {
    /// The record stored as `text`; `nil` for no text (a deleted record, a delete's payload).
    /// - Throws: ``LocalStoreError`` `corruptData` when the text is not a JSON object.
    static func decode(_ text: String?) throws -> RecordFields? {
        guard let text else { return nil }
        let value: JSONValue
        do {
            value = try JSONValue(parsing: text)
        } catch {
            throw LocalStoreError(.corruptData, "a stored record is not JSON", underlying: error)
        }
        guard let record = value.objectValue else {
            throw LocalStoreError(.corruptData, "a stored record is not a JSON object: \(text.prefix(80))")
        }
        return record
    }

    /// The text to store for `record`; `nil` for none.
    static func encode(_ record: RecordFields?) -> String? {
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
