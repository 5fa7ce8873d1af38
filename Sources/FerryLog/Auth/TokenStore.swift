/// The storage seam of authentication: grants and the hashes of their tokens.
///
/// Tokens are random secrets; a store keeps only their SHA-256. Refresh tokens rotate:
/// spending one issues a new pair and the spent one stops working. Presenting a refresh
/// token that was already spent revokes its whole grant, since one of its holders must be
/// an impostor.
public protocol TokenStore: Sendable {
    /// Creates a grant and issues its first pair of tokens: a grant of `spaces`, or, when
    /// `admin` is true, an admin grant (`spaces` empty), whose tokens reach the `/admin/...`
    /// routes and nothing of any space. Refreshing a pair keeps what its grant is.
    /// - Parameter accessTTL: The lifetime of each access token of the grant, in seconds.
    func issue(spaces: [String], accessTTL: Int64, admin: Bool) async throws -> IssuedTokens

    /// The scope of a live access token; `nil` for an unknown, expired or revoked one.
    func authenticate(accessToken: String) async throws -> TokenScope?

    /// Spends a refresh token and issues the next pair; `nil` for an unknown, spent or
    /// revoked one (a spent one also revokes its grant).
    func refresh(refreshToken: String) async throws -> IssuedTokens?

    /// Every grant, newest first.
    func grants() async throws -> [TokenGrant]

    /// Revokes a grant and every token of it; `false` when there is no such grant.
    func revoke(grantID: String) async throws -> Bool
}

extension TokenStore {
    /// Creates a grant for `spaces` and issues its first pair of tokens.
    /// - Parameter accessTTL: The lifetime of each access token of the grant, in seconds.
    public func issue(spaces: [String], accessTTL: Int64) async throws -> IssuedTokens {
        try await issue(spaces: spaces, accessTTL: accessTTL, admin: false)
    }
}
