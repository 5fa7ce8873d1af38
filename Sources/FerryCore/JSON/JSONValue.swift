/// A JSON value of any shape, as carried in a mutation's `payload`.
///
/// Integers that fit in 64 bits are kept exactly as ``int(_:)``; other numbers are
/// ``double(_:)``. Object member order is not significant and is not kept.
public enum JSONValue: Sendable, Hashable {
    /// JSON `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number written without fraction or exponent that fits in `Int64`.
    case int(Int64)
    /// Any other number.
    case double(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object.
    case object([String: JSONValue])

    /// The members when this is an object, otherwise `nil`.
    public var objectValue: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }
}

extension JSONValue: Codable {
    /// Decodes any JSON value.
    public init(from decoder: any Decoder) throws {
        // Codable cannot peek at the kind of a value, so kinds are tried in turn; each miss
        // costs a thrown error, so the most common kinds go first: strings, numbers, objects.
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            self = .object(value)
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else {
            self = .array(try container.decode([JSONValue].self))
        }
    }

    /// Encodes the value as the JSON it stands for.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension JSONValue {
    /// The compact JSON text of this value, as UTF-8 bytes.
    ///
    /// This is the form in which stores keep payloads. It is byte-for-byte what a JSON parser
    /// reads back as an equal value; object members are written with sorted keys so that
    /// equal values always serialize identically. Non-finite doubles, which JSON cannot
    /// express, are written as `null`. JSON does not tell `3.0` from `3`: a double with no
    /// fraction reads back as ``int(_:)``, the same number.
    public func serialized() -> [UInt8] {
        var writer = JSONWriter(capacity: 128)
        writer.value(self)
        return writer.bytes
    }
}
