/// The rules every ``TokenStore`` follows, decided in memory so that the memory, SQLite and
/// PostgreSQL stores cannot disagree: what spending a refresh token does, and what a new pair
/// of tokens is.
package enum TokenRotation {
    /// What spending a refresh token does.
    package enum Decision: Equatable {
        /// Unknown, or its grant is revoked: refused, nothing changes.
        case refuse
        /// Already spent: someone holds a copy, so the grant is revoked and the refresh refused.
        case revokeGrant
        /// Mark the token spent and issue the next pair of its grant.
        case rotate
    }

    /// The decision for a refresh token found with its grant's revocation time and its own
    /// spending time (`found` false when no such refresh token exists).
    package static func decide(found: Bool, grantRevokedAt: Int64?, spentAt: Int64?) -> Decision {
        guard found, grantRevokedAt == nil else { return .refuse }
        return spentAt == nil ? .rotate : .revokeGrant
    }

    /// A new pair of tokens for a grant: the secrets shown once, the hashes a store keeps.
    package struct Pair {
        /// The tokens as the holder receives them.
        package var issued: IssuedTokens
        /// The SHA-256 of the access token.
        package var accessHash: String
        /// The SHA-256 of the refresh token.
        package var refreshHash: String
        /// When the access token expires, milliseconds since 1970.
        package var accessExpiresAt: Int64

        /// Generates the next pair of `grantID`, issued at `now` (milliseconds since 1970).
        package init(grantID: String, spaces: [String], accessTTL: Int64, now: Int64) {
            let access = TokenSecret.generate(prefix: TokenSecret.accessPrefix)
            let refresh = TokenSecret.generate(prefix: TokenSecret.refreshPrefix)
            issued = IssuedTokens(grantID: grantID, accessToken: access, refreshToken: refresh, expiresIn: accessTTL, spaces: spaces)
            accessHash = TokenSecret.hash(access)
            refreshHash = TokenSecret.hash(refresh)
            accessExpiresAt = now + accessTTL * 1000
        }
    }

    /// The spaces of a grant as the SQL stores keep them: one comma-separated text.
    package static func joined(_ spaces: [String]) -> String { spaces.joined(separator: ",") }

    /// The spaces of a grant from their stored text.
    package static func spaces(_ text: String) -> [String] { text.split(separator: ",").map(String.init) }
}
