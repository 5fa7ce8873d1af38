/// What a mutation does to its record.
///
/// An open set: decoding accepts any string so that a server can reject an unknown
/// operation for one mutation without failing the whole request. ``isKnown`` tells the
/// three operations of protocol version 1 apart from the rest.
public struct MutationOp: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The operation's name on the wire.
    public var rawValue: String

    /// Creates an operation from its wire name.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The payload is the whole record; it replaces any earlier version.
    public static let upsert = MutationOp(rawValue: "upsert")
    /// The payload holds only the fields that change; a field set to `null` is removed.
    public static let patch = MutationOp(rawValue: "patch")
    /// The record is removed; the payload is `{}` or absent.
    public static let delete = MutationOp(rawValue: "delete")

    /// Whether this is one of the operations of protocol version 1.
    public var isKnown: Bool { self == .upsert || self == .patch || self == .delete }

    public var description: String { rawValue }
}
