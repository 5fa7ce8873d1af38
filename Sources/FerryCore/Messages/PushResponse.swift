/// The answer to a push: every mutation of the request once, in `acks` or in `rejected`.
public struct PushResponse: Codable, Sendable, Hashable {
    /// The number of mutations stored by this request; equals `acks.count`.
    public var accepted: Int
    /// The stored mutations and their seqs, in request order.
    public var acks: [MutationAck]
    /// The mutations not stored, in request order.
    public var rejected: [MutationRejection]
    /// Accepted mutations made on an outdated version.
    public var conflicts: [ConflictReport]
    /// The space's head after the push.
    public var headSeq: Int64
    /// The id of the space's log.
    public var logID: String

    /// Creates a push response.
    public init(
        accepted: Int,
        acks: [MutationAck],
        rejected: [MutationRejection],
        conflicts: [ConflictReport],
        headSeq: Int64,
        logID: String
    ) {
        self.accepted = accepted
        self.acks = acks
        self.rejected = rejected
        self.conflicts = conflicts
        self.headSeq = headSeq
        self.logID = logID
    }

    enum CodingKeys: String, CodingKey {
        case accepted
        case acks
        case rejected
        case conflicts
        case headSeq = "head_seq"
        case logID = "log_id"
    }
}
