/// An accepted mutation that was made on an older version than another device's latest
/// write of the same record.
public struct ConflictReport: Codable, Sendable, Hashable {
    /// The accepted mutation's client action id.
    public var clientActionID: Int64
    /// The record type.
    public var entity: String
    /// The record's id.
    public var entityKey: String
    /// The version the mutation was made on.
    public var baseSeq: Int64
    /// The seq of the other device's latest write of the record when the mutation was accepted.
    public var currentSeq: Int64

    /// Creates a conflict report.
    public init(clientActionID: Int64, entity: String, entityKey: String, baseSeq: Int64, currentSeq: Int64) {
        self.clientActionID = clientActionID
        self.entity = entity
        self.entityKey = entityKey
        self.baseSeq = baseSeq
        self.currentSeq = currentSeq
    }

    enum CodingKeys: String, CodingKey {
        case clientActionID = "client_action_id"
        case entity
        case entityKey = "entity_key"
        case baseSeq = "base_seq"
        case currentSeq = "current_seq"
    }
}
