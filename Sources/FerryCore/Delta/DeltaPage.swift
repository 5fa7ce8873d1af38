/// Where a drain call reads from: the first call of a drain sends the delta token, every
/// later call the previous page's page token. The two never mix, so a page token can never
/// be sent as a delta token.
public enum DeltaPosition: Sendable, Hashable {
    /// The first call of a drain: resume from this delta token.
    case delta(String)
    /// A later call: read the page this token names.
    case page(String)
}

/// One page of a drain.
public struct DeltaPage<Item: Sendable>: Sendable {
    /// What follows a page.
    public enum Next: Sendable, Hashable {
        /// More pages: call again with this page token.
        case page(String)
        /// The drain is complete; this is the delta token for the next sync.
        case done(nextDeltaToken: String)
    }

    /// The page's items: records in the updated drain, ids in the deleted drain.
    public var items: [Item]
    /// What follows.
    public var next: Next

    /// Creates a page.
    public init(items: [Item], next: Next) {
        self.items = items
        self.next = next
    }
}

extension DeltaPage: Equatable where Item: Equatable {}

/// The answer to starting a sync: the tokens to drain from, or that the source is still
/// preparing them (Aurinko's `ready: false`).
public struct DeltaStart: Sendable, Hashable {
    /// The tokens the drains begin from.
    public var tokens: DeltaTokens
    /// Whether the source has finished preparing; when `false`, start again after a pause.
    public var ready: Bool

    /// Creates a start answer.
    public init(tokens: DeltaTokens, ready: Bool) {
        self.tokens = tokens
        self.ready = ready
    }
}
