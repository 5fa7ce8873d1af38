/// A grant: the spaces given to one holder, and the chain of token pairs issued for it.
public struct TokenGrant: Sendable, Hashable, Codable {
    /// The grant's id, as `ferry token revoke` takes it.
    public var id: String
    /// The spaces its tokens may read and write.
    public var spaces: [String]
    /// The lifetime of each access token issued for it, in seconds.
    public var accessTTL: Int64
    /// When the grant was created, milliseconds since 1970.
    public var createdAt: Int64
    /// When the newest access token of the grant expires, milliseconds since 1970.
    public var accessExpiresAt: Int64?
    /// When the grant was revoked, if it was.
    public var revokedAt: Int64?

    /// Creates a grant description.
    public init(id: String, spaces: [String], accessTTL: Int64, createdAt: Int64, accessExpiresAt: Int64?, revokedAt: Int64?) {
        self.id = id
        self.spaces = spaces
        self.accessTTL = accessTTL
        self.createdAt = createdAt
        self.accessExpiresAt = accessExpiresAt
        self.revokedAt = revokedAt
    }

    enum CodingKeys: String, CodingKey {
        case id
        case spaces
        case accessTTL = "access_ttl"
        case createdAt = "created_at"
        case accessExpiresAt = "access_expires_at"
        case revokedAt = "revoked_at"
    }
}
