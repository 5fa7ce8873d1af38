/// A remote mutation this device could not apply.
public struct DeadLetter: Sendable, Hashable, Codable {
    /// The id in the dead-letter table.
    public var id: Int64
    /// The mutation's seq.
    public var seq: Int64
    /// The table it was for.
    public var entity: String
    /// The record's key.
    public var entityKey: String
    /// The operation.
    public var op: String
    /// Why it could not be applied.
    public var error: String
    /// When, RFC 3339.
    public var failedAt: String

    enum CodingKeys: String, CodingKey {
        case id
        case seq
        case entity
        case entityKey = "entity_key"
        case op
        case error
        case failedAt = "failed_at"
    }
}
