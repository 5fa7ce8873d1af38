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
    /// Whether it is an admin grant: its tokens reach the `/admin/...` routes and no space.
    public var isAdmin: Bool

    /// Creates a grant description.
    public init(
        id: String,
        spaces: [String],
        accessTTL: Int64,
        createdAt: Int64,
        accessExpiresAt: Int64?,
        revokedAt: Int64?,
        isAdmin: Bool = false
    ) {
        self.id = id
        self.spaces = spaces
        self.accessTTL = accessTTL
        self.createdAt = createdAt
        self.accessExpiresAt = accessExpiresAt
        self.revokedAt = revokedAt
        self.isAdmin = isAdmin
    }

    /// Decodes a grant; one written before admin grants existed is not an admin grant.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        spaces = try container.decode([String].self, forKey: .spaces)
        accessTTL = try container.decode(Int64.self, forKey: .accessTTL)
        createdAt = try container.decode(Int64.self, forKey: .createdAt)
        accessExpiresAt = try container.decodeIfPresent(Int64.self, forKey: .accessExpiresAt)
        revokedAt = try container.decodeIfPresent(Int64.self, forKey: .revokedAt)
        isAdmin = try container.decodeIfPresent(Bool.self, forKey: .isAdmin) ?? false
    }

    enum CodingKeys: String, CodingKey {
        case id
        case spaces
        case accessTTL = "access_ttl"
        case createdAt = "created_at"
        case accessExpiresAt = "access_expires_at"
        case revokedAt = "revoked_at"
        case isAdmin = "admin"
    }
}
