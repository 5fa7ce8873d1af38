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

    /// A record of the outbox as ``decode(_:)`` reads it, with the bytes the capture triggers
    /// wrote as hex (`{"$ferry_hex": "…"}`) in their wire form (`{"$base64": "…"}`).
    static func decodeCaptured(_ text: String?) throws -> RecordFields? {
        guard let text else { return nil }
        guard var record = try decode(text) else { return nil }
        // Most payloads hold no bytes: look at the members only when the marker is there.
        guard text.utf8.count > LocalStore.capturedHexMember.utf8.count, text.contains(LocalStore.capturedHexMember) else {
            return record
        }
        for (field, value) in record {
            guard case .object(let members) = value, members.count == 1,
                case .string(let hex)? = members[LocalStore.capturedHexMember]
            else { continue }
            guard let bytes = Self.bytes(hex: hex) else {
                throw LocalStoreError(.corruptData, "a captured blob of '\(field)' is not hex")
            }
            record[field] = bytesValue(bytes)
        }
        return record
    }

    /// The member that marks a JSON object as bytes on the wire: `{"$base64": "…"}`, the
    /// bytes in standard base64 with padding (RFC 4648 §4). A BLOB column's value travels so.
    static let bytesMember = "$base64"

    /// The wire form of `bytes`.
    static func bytesValue(_ bytes: some Sequence<UInt8>) -> JSONValue {
        .object([bytesMember: .string(Data(bytes).base64EncodedString())])
    }

    /// The bytes of a wire value that is `{"$base64": "…"}`; `nil` for any other value,
    /// including a `$base64` member that is not base64 text (such an object is stored as
    /// the JSON text it is, like any other object: a bad value from another client never
    /// stops a pull).
    static func bytes(of value: JSONValue) -> Data? {
        guard case .object(let members) = value, members.count == 1, case .string(let text)? = members[bytesMember] else {
            return nil
        }
        return Data(base64Encoded: text)
    }

    /// The bytes of hex text, either case; `nil` when it is not hex.
    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count.isMultiple(of: 2) else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = hexDigit(digits[index]), let low = hexDigit(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func hexDigit(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The text to store for `record`; `nil` for none.
    static func encode(_ record: RecordFields?) -> String? {
        record.map { String(decoding: JSONValue.object($0).serialized(), as: UTF8.self) }
    }

    /// The JSON value of an SQL value: a blob becomes its wire form, `{"$base64": "…"}`.
    static func jsonValue(_ value: DatabaseValue) -> JSONValue {
        switch value.storage {
        case .null: return .null
        case .int64(let number): return .int(number)
        case .double(let number): return .double(number)
        case .string(let text): return .string(text)
        case .blob(let data): return bytesValue(data)
        }
    }
}
