/// Why a pushed mutation was not stored. An open set of codes.
public struct RejectionReason: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The reason's name on the wire.
    public var rawValue: String

    /// Creates a reason from its wire name.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The mutation's triple was already stored; `seq` says under which seq. Clients treat
    /// a duplicate as acknowledged.
    public static let duplicate = RejectionReason(rawValue: "duplicate")
    /// The mutation breaks a rule of the protocol; `message` says which.
    public static let invalid = RejectionReason(rawValue: "invalid")

    public var description: String { rawValue }
}
