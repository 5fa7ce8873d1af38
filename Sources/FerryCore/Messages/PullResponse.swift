/// The answer to a pull: one page of a space's log.
public struct PullResponse: Codable, Sendable, Hashable {
    /// The mutations with `since_seq < seq ≤ latest_seq`, ascending, without the excluded device's.
    public var mutations: [LoggedMutation]
    /// True exactly when `head_seq > latest_seq`.
    public var hasMore: Bool
    /// The cursor to send as `since_seq` next time.
    public var latestSeq: Int64
    /// The space's head when the page was read.
    public var headSeq: Int64
    /// The id of the space's log.
    public var logID: String

    /// Creates a pull response.
    public init(mutations: [LoggedMutation], hasMore: Bool, latestSeq: Int64, headSeq: Int64, logID: String) {
        self.mutations = mutations
        self.hasMore = hasMore
        self.latestSeq = latestSeq
        self.headSeq = headSeq
        self.logID = logID
    }

    enum CodingKeys: String, CodingKey {
        case mutations
        case hasMore = "has_more"
        case latestSeq = "latest_seq"
        case headSeq = "head_seq"
        case logID = "log_id"
    }
}
