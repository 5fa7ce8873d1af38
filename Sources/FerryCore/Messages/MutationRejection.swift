/// A pushed mutation that was not stored.
public struct MutationRejection: Codable, Sendable, Hashable {
    /// The mutation's client action id.
    public var clientActionID: Int64
    /// Why it was not stored.
    public var reason: RejectionReason
    /// For a duplicate: the seq the first copy was stored under.
    public var seq: Int64?
    /// For an invalid mutation: what is wrong with it.
    public var message: String?

    /// Creates a rejection.
    public init(clientActionID: Int64, reason: RejectionReason, seq: Int64? = nil, message: String? = nil) {
        self.clientActionID = clientActionID
        self.reason = reason
        self.seq = seq
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case clientActionID = "client_action_id"
        case reason
        case seq
        case message
    }
}
