/// The syntactic rules of protocol version 1 for names and ids, checked without regular
/// expressions because they run once per pushed mutation.
public enum ProtocolRules {
    /// Whether `name` matches `^[a-z0-9][a-z0-9._-]{0,63}$`.
    public static func isValidSpace(_ name: String) -> Bool {
        let bytes = name.utf8
        guard let first = bytes.first, bytes.count <= 64, isLowerAlnum(first) else { return false }
        return bytes.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// Whether `entity` matches `^[A-Za-z][A-Za-z0-9_.-]{0,63}$`.
    public static func isValidEntity(_ entity: String) -> Bool {
        let bytes = entity.utf8
        guard let first = bytes.first, bytes.count <= 64, isAlpha(first) else { return false }
        return bytes.allSatisfy {
            isAlpha($0) || isDigit($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
    }

    /// Whether `key` is 1 to 256 characters long.
    public static func isValidEntityKey(_ key: String) -> Bool {
        !key.isEmpty && (key.utf8.count <= 256 || key.count <= 256)
    }

    /// Whether `id` is 1 to 128 printable ASCII characters (a device or session id).
    public static func isValidClientID(_ id: String) -> Bool {
        let bytes = id.utf8
        return !bytes.isEmpty && bytes.count <= 128 && bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
    }

    /// Throws ``FerryError`` `bad_request` naming the rule when `name` is not a valid space
    /// name (``isValidSpace(_:)``).
    public static func requireValidSpace(_ name: String) throws {
        guard isValidSpace(name) else { throw FerryError(.badRequest, "space must match ^[a-z0-9][a-z0-9._-]{0,63}$") }
    }

    /// Throws ``FerryError`` `bad_request` naming `parameter` when `id` is not a valid device
    /// or session id (``isValidClientID(_:)``).
    public static func requireValidClientID(_ id: String, parameter: String) throws {
        guard isValidClientID(id) else { throw FerryError(.badRequest, "\(parameter) must be 1 to 128 printable ASCII characters") }
    }

    private static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || isDigit(byte)
    }

    private static func isAlpha(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
