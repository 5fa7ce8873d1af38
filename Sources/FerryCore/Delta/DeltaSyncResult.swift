/// What one ``DeltaSync`` run did.
public struct DeltaSyncResult: Sendable, Hashable {
    /// The stream synced.
    public var stream: String
    /// Records the updated drain brought and the run applied (a record in two pages counts
    /// twice; an attempt whose tokens the source rejected does not count).
    public var updated: Int
    /// Ids the deleted drain brought and the run applied.
    public var deleted: Int
    /// Records a full sync removed because the source no longer has them.
    public var swept: Int
    /// How long the run took, waits included.
    public var duration: Duration
    /// Whether the run was a full sync: the first one, or one that started over because the
    /// source no longer knew the stored tokens.
    public var fullResync: Bool
    /// Whether the source rejected the stored tokens during this run.
    public var tokensRejected: Bool
    /// Pages read, from both drains of the attempt that finished.
    public var pages: Int
    /// The tokens stored for the next run.
    public var tokens: DeltaTokens

    /// Creates a result.
    public init(
        stream: String,
        updated: Int,
        deleted: Int,
        swept: Int,
        duration: Duration,
        fullResync: Bool,
        tokensRejected: Bool,
        pages: Int,
        tokens: DeltaTokens
    ) {
        self.stream = stream
        self.updated = updated
        self.deleted = deleted
        self.swept = swept
        self.duration = duration
        self.fullResync = fullResync
        self.tokensRejected = tokensRejected
        self.pages = pages
        self.tokens = tokens
    }
}
