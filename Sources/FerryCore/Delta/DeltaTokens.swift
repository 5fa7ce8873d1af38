/// The delta tokens of one stream: where the next sync resumes.
///
/// A source that hands out one token for both halves (CalDAV's sync token) puts the same
/// value in both. An empty string is a valid token for sources whose first sync sends an
/// empty one (RFC 6578).
public struct DeltaTokens: Sendable, Hashable, Codable {
    /// The token the updated-records drain resumes from.
    public var updated: String
    /// The token the deleted-ids drain resumes from.
    public var deleted: String

    /// Creates a pair of tokens.
    public init(updated: String, deleted: String) {
        self.updated = updated
        self.deleted = deleted
    }

    /// Creates the pair of a source with one token for both halves.
    public init(single token: String) {
        self.init(updated: token, deleted: token)
    }
}
