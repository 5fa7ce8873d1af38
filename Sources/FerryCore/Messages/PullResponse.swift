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
    /// The space's floor: the lowest seq it still holds, minus one (0 while nothing was pruned).
    public var floorSeq: Int64

    /// Creates a pull response.
    public init(mutations: [LoggedMutation], hasMore: Bool, latestSeq: Int64, headSeq: Int64, logID: String, floorSeq: Int64 = 0) {
        self.mutations = mutations
        self.hasMore = hasMore
        self.latestSeq = latestSeq
        self.headSeq = headSeq
        self.logID = logID
        self.floorSeq = floorSeq
    }

    enum CodingKeys: String, CodingKey {
        case mutations
        case hasMore = "has_more"
        case latestSeq = "latest_seq"
        case headSeq = "head_seq"
        case logID = "log_id"
        case floorSeq = "floor_seq"
    }

    /// Decodes a pull answer; a missing `floor_seq` is 0.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            mutations: try container.decode([LoggedMutation].self, forKey: .mutations),
            hasMore: try container.decode(Bool.self, forKey: .hasMore),
            latestSeq: try container.decode(Int64.self, forKey: .latestSeq),
            headSeq: try container.decode(Int64.self, forKey: .headSeq),
            logID: try container.decode(String.self, forKey: .logID),
            floorSeq: try container.decodeIfPresent(Int64.self, forKey: .floorSeq) ?? 0
        )
    }
}
