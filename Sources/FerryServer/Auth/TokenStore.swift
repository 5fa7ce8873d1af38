import Crypto
import FerryCore

/// What an access token allows: the spaces of its grant.
public struct TokenScope: Sendable, Hashable {
    /// The grant the token belongs to.
    public var grantID: String
    /// The spaces the token may read and write.
    public var spaces: Set<String>

    /// Creates a scope.
    public init(grantID: String, spaces: Set<String>) {
        self.grantID = grantID
        self.spaces = spaces
    }

    /// Whether the token may read and write `space`.
    public func allows(_ space: String) -> Bool { spaces.contains(space) }
}

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

/// The storage seam of authentication: grants and the hashes of their tokens.
///
/// Tokens are random secrets; a store keeps only their SHA-256. Refresh tokens rotate:
/// spending one issues a new pair and the spent one stops working. Presenting a refresh
/// token that was already spent revokes its whole grant, since one of its holders must be
/// an impostor.
public protocol TokenStore: Sendable {
    /// Creates a grant for `spaces` and issues its first pair of tokens.
    /// - Parameter accessTTL: The lifetime of each access token of the grant, in seconds.
    func issue(spaces: [String], accessTTL: Int64) async throws -> IssuedTokens

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

/// Making and hashing token secrets.
public enum TokenSecret {
    /// The prefix of access tokens, so that a leaked token says what it is.
    public static let accessPrefix = "fat_"
    /// The prefix of refresh tokens.
    public static let refreshPrefix = "frt_"

    /// A new secret: the prefix and 32 random bytes, base64url without padding.
    public static func generate(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return prefix + base64URL(bytes)
    }

    /// The lowercase hex SHA-256 of a secret, the only form in which stores keep it.
    public static func hash(_ secret: String) -> String {
        SHA256.hash(data: Array(secret.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// A new grant id: `g_` and 12 random bytes, base64url.
    public static func grantID() -> String {
        var generator = SystemRandomNumberGenerator()
        return "g_" + base64URL((0..<12).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    private static func base64URL(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value: UInt32 = 0
            for byte in chunk { value = value << 8 | UInt32(byte) }
            value <<= UInt32(8 * (3 - chunk.count))
            let characters = chunk.count + 1
            for position in 0..<characters {
                out.append(alphabet[Int((value >> UInt32(18 - 6 * position)) & 0x3F)])
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
