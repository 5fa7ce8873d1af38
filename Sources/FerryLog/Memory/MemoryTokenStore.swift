import FerryCore
import Synchronization

/// A ``TokenStore`` in memory, lost when the process ends: for tests and demos.
///
/// It follows the same rules as the SQLite and PostgreSQL stores (``TokenRotation``), and the
/// token-store contract suite runs against it with them.
public final class MemoryTokenStore: TokenStore {
    private struct Grant {
        var id: String
        var spaces: [String]
        var accessTTL: Int64
        var createdAt: Int64
        var revokedAt: Int64?
        var accessExpiresAt: Int64?
        var isAdmin = false
    }

    private struct Token {
        var grantID: String
        var isAccess: Bool
        var expiresAt: Int64?
        var spentAt: Int64?
    }

    private struct State {
        var grants: [String: Grant] = [:]
        /// By the SHA-256 of the secret, as the other stores key them.
        var tokens: [String: Token] = [:]

        mutating func issuePair(of grant: Grant, at now: Int64) -> IssuedTokens {
            let pair = TokenRotation.Pair(grantID: grant.id, spaces: grant.spaces, accessTTL: grant.accessTTL, now: now)
            tokens[pair.accessHash] = Token(grantID: grant.id, isAccess: true, expiresAt: pair.accessExpiresAt)
            tokens[pair.refreshHash] = Token(grantID: grant.id, isAccess: false)
            grants[grant.id]?.accessExpiresAt = pair.accessExpiresAt
            return pair.issued
        }
    }

    private let state = Mutex(State())
    private let clock: WallClock

    /// Creates an empty store.
    /// - Parameter clock: Decides which tokens have expired.
    public init(clock: WallClock = .system) {
        self.clock = clock
    }

    public func issue(spaces: [String], accessTTL: Int64, admin: Bool) async throws -> IssuedTokens {
        let now = clock.nowMilliseconds()
        let grant = Grant(
            id: TokenSecret.grantID(),
            spaces: admin ? [] : spaces,
            accessTTL: accessTTL,
            createdAt: now,
            isAdmin: admin
        )
        return state.withLock { state in
            state.grants[grant.id] = grant
            return state.issuePair(of: grant, at: now)
        }
    }

    public func authenticate(accessToken: String) async throws -> TokenScope? {
        let hash = TokenSecret.hash(accessToken)
        let now = clock.nowMilliseconds()
        return state.withLock { state in
            guard let token = state.tokens[hash], token.isAccess, let expiresAt = token.expiresAt, expiresAt > now,
                let grant = state.grants[token.grantID], grant.revokedAt == nil
            else { return nil }
            return TokenScope(grantID: grant.id, spaces: Set(grant.spaces), isAdmin: grant.isAdmin)
        }
    }

    public func refresh(refreshToken: String) async throws -> IssuedTokens? {
        let hash = TokenSecret.hash(refreshToken)
        let now = clock.nowMilliseconds()
        return state.withLock { state in
            let token = state.tokens[hash].flatMap { $0.isAccess ? nil : $0 }
            let grant = token.flatMap { state.grants[$0.grantID] }
            switch TokenRotation.decide(found: grant != nil, grantRevokedAt: grant?.revokedAt, spentAt: token?.spentAt) {
            case .refuse:
                return nil
            case .revokeGrant:
                if let grant { state.grants[grant.id]?.revokedAt = now }
                return nil
            case .rotate:
                guard let grant else { return nil }
                state.tokens[hash]?.spentAt = now
                return state.issuePair(of: grant, at: now)
            }
        }
    }

    public func grants() async throws -> [TokenGrant] {
        state.withLock { state in
            state.grants.values
                .sorted { ($0.createdAt, $1.id) > ($1.createdAt, $0.id) }
                .map { grant in
                    TokenGrant(
                        id: grant.id,
                        spaces: grant.spaces,
                        accessTTL: grant.accessTTL,
                        createdAt: grant.createdAt,
                        accessExpiresAt: grant.accessExpiresAt,
                        revokedAt: grant.revokedAt,
                        isAdmin: grant.isAdmin
                    )
                }
        }
    }

    public func revoke(grantID: String) async throws -> Bool {
        let now = clock.nowMilliseconds()
        return state.withLock { state in
            guard state.grants[grantID] != nil else { return false }
            if state.grants[grantID]?.revokedAt == nil { state.grants[grantID]?.revokedAt = now }
            return true
        }
    }
}
