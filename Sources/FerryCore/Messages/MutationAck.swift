/// A mutation the server stored, with the seq it was stored under.
public struct MutationAck: Codable, Sendable, Hashable {
    /// The mutation's client action id.
    public var clientActionID: Int64
    /// Its seq in the space's log.
    public var seq: Int64

    /// Creates an acknowledgement.
    public init(clientActionID: Int64, seq: Int64) {
        self.clientActionID = clientActionID
        self.seq = seq
    }

    enum CodingKeys: String, CodingKey {
        case clientActionID = "client_action_id"
        case seq
    }
}
