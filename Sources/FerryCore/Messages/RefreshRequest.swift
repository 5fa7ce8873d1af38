/// The body of `POST /auth/refresh`.
public struct RefreshRequest: Codable, Sendable, Hashable {
    /// The refresh token to spend; it stops working once used.
    public var refreshToken: String

    /// Creates a refresh request.
    public init(refreshToken: String) { self.refreshToken = refreshToken }

    enum CodingKeys: String, CodingKey {
        case refreshToken = "refresh_token"
    }
}
