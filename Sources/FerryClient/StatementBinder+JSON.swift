import FerryCore
import FerrySQLite

extension StatementBinder {
    /// Binds a JSON value as an app row's column value: booleans as 0 or 1, bytes
    /// (`{"$base64": "…"}`) as a blob, other arrays and objects as their JSON text, the rest
    /// as themselves.
    mutating func bind(json value: JSONValue) throws {
        if case .object = value, let data = RecordCodec.bytes(of: value) {
            return try bind(blob: Array(data))
        }
        switch value {
        case .null: try bindNull()
        case .bool(let flag): try bind(Int64(flag ? 1 : 0))
        case .int(let number): try bind(number)
        case .double(let number): try bind(number)
        case .string(let text): try bind(text)
        case .array, .object: try bind(text: value.serialized())
        }
    }
}
