/// A fresh access token and the refresh token that replaces the one spent.
public struct TokenPair: Codable, Sendable, Hashable {
    /// The bearer token for `/sync/...` requests.
    public var accessToken: String
    /// The token to spend on the next `POST /auth/refresh`.
    public var refreshToken: String
    /// Seconds until the access token expires.
    public var expiresIn: Int64

    /// Creates a token pair.
    public init(accessToken: String, refreshToken: String, expiresIn: Int64) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresIn = expiresIn
    }

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
        case expiresIn = "expires_in"
    }
}
