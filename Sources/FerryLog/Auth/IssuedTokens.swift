/// A newly issued access token and refresh token, shown once: the server keeps only hashes.
public struct IssuedTokens: Sendable, Hashable, Codable {
    /// The grant both tokens belong to; revoking it revokes them.
    public var grantID: String
    /// The bearer token for `/sync/...` requests.
    public var accessToken: String
    /// The token to spend on `POST /auth/refresh`.
    public var refreshToken: String
    /// Seconds until the access token expires.
    public var expiresIn: Int64
    /// The spaces both tokens are scoped to.
    public var spaces: [String]

    /// Creates issued tokens.
    public init(grantID: String, accessToken: String, refreshToken: String, expiresIn: Int64, spaces: [String]) {
        self.grantID = grantID
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresIn = expiresIn
        self.spaces = spaces
    }

    enum CodingKeys: String, CodingKey {
        case grantID = "grant_id"
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
        case expiresIn = "expires_in"
        case spaces
    }
}
