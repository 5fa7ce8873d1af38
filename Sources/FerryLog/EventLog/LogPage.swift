import FerryCore

/// One page of a space's log, read from a consistent snapshot.
public struct LogPage: Sendable, Hashable {
    /// The mutations of the page, ascending by seq.
    public var mutations: [StoredMutation]
    /// The cursor that covers this page, excluded mutations included.
    public var latestSeq: Int64
    /// The space's head in the snapshot the page was read from.
    public var headSeq: Int64
    /// The id of the space's log.
    public var logID: String
    /// The space's floor: the lowest seq it still holds, minus one (0 while nothing was pruned).
    public var floorSeq: Int64

    /// True exactly when the head is beyond this page.
    public var hasMore: Bool { headSeq > latestSeq }

    /// The page of a read of at most `limit` mutations whose result is `mutations`: a full
    /// page covers up to its last mutation, a short one up to the head (the mutations left out
    /// of the read are covered too).
    public init(mutations: [StoredMutation], limit: Int, headSeq: Int64, logID: String, floorSeq: Int64 = 0) {
        let latest = mutations.count == limit ? mutations.last?.seq ?? headSeq : headSeq
        self.init(mutations: mutations, latestSeq: latest, headSeq: headSeq, logID: logID, floorSeq: floorSeq)
    }

    /// Creates a page.
    public init(mutations: [StoredMutation], latestSeq: Int64, headSeq: Int64, logID: String, floorSeq: Int64 = 0) {
        self.mutations = mutations
        self.latestSeq = latestSeq
        self.headSeq = headSeq
        self.logID = logID
        self.floorSeq = floorSeq
    }
}
