import FerryCore
import FerryLog
import PostgresNIO

/// The ``TokenStore`` shared by several servers, in PostgreSQL: the same grants, hashes and
/// rotation rules as ``SQLiteTokenStore``. A refresh locks its token's row, so two servers
/// spending the same refresh token at once issue one new pair, and the second sees it spent.
public final class PostgresTokenStore: TokenStore {
    private let database: PostgresBackend
    private let clock: WallClock

    /// Creates the store on a database whose schema is migrated.
    public init(database: PostgresBackend, clock: WallClock = .system) {
        self.database = database
        self.clock = clock
    }

    public func issue(spaces: [String], accessTTL: Int64, admin: Bool) async throws -> IssuedTokens {
        let now = clock.nowMilliseconds()
        let grantID = TokenSecret.grantID()
        let spaces = admin ? [] : spaces
        let joined = TokenRotation.joined(spaces)
        let logger = database.logger
        return try await database.transaction { connection in
            try await connection.query(
                """
                INSERT INTO token_grant (id, spaces, access_ttl, created_at, admin)
                VALUES (\(grantID), \(joined), \(accessTTL), \(now), \(admin))
                """,
                logger: logger
            )
            return try await Self.issuePair(grantID: grantID, spaces: spaces, accessTTL: accessTTL, at: now, connection, logger)
        }
    }

    public func authenticate(accessToken: String) async throws -> TokenScope? {
        let hash = TokenSecret.hash(accessToken)
        let now = clock.nowMilliseconds()
        let logger = database.logger
        return try await database.perform { connection in
            // Read to the end, not left early: see `PostgresEventLog.fetchSpace`.
            let rows = try await connection.query(
                """
                SELECT g.id, g.spaces, g.admin FROM token t JOIN token_grant g ON g.id = t.grant_id
                WHERE t.hash = \(hash) AND t.kind = 'access' AND t.expires_at > \(now) AND g.revoked_at IS NULL
                """,
                logger: logger
            ).collect()
            guard let row = rows.first else { return nil }
            let (grantID, spaces, admin) = try row.decode((String, String, Bool).self)
            return TokenScope(grantID: grantID, spaces: Set(TokenRotation.spaces(spaces)), isAdmin: admin)
        }
    }

    public func refresh(refreshToken: String) async throws -> IssuedTokens? {
        let hash = TokenSecret.hash(refreshToken)
        let now = clock.nowMilliseconds()
        let logger = database.logger
        return try await database.transaction { connection in
            var found: (grantID: String, spaces: String, ttl: Int64, revokedAt: Int64?, usedAt: Int64?)?
            for try await row in try await connection.query(
                """
                SELECT g.id, g.spaces, g.access_ttl, g.revoked_at, t.used_at
                FROM token t JOIN token_grant g ON g.id = t.grant_id
                WHERE t.hash = \(hash) AND t.kind = 'refresh' FOR UPDATE OF t
                """,
                logger: logger
            ).decode((String, String, Int64, Int64?, Int64?).self) {
                found = row
            }
            switch TokenRotation.decide(found: found != nil, grantRevokedAt: found?.revokedAt, spentAt: found?.usedAt) {
            case .refuse:
                return nil
            case .revokeGrant:
                try await connection.query(
                    "UPDATE token_grant SET revoked_at = \(now) WHERE id = \(found?.grantID)",
                    logger: logger
                )
                return nil
            case .rotate:
                guard let found else { return nil }
                try await connection.query("UPDATE token SET used_at = \(now) WHERE hash = \(hash)", logger: logger)
                return try await Self.issuePair(
                    grantID: found.grantID,
                    spaces: TokenRotation.spaces(found.spaces),
                    accessTTL: found.ttl,
                    at: now,
                    connection,
                    logger
                )
            }
        }
    }

    public func grants() async throws -> [TokenGrant] {
        let logger = database.logger
        return try await database.perform { connection in
            var grants: [TokenGrant] = []
            for try await (id, spaces, ttl, created, revoked, expires, admin) in try await connection.query(
                """
                SELECT g.id, g.spaces, g.access_ttl, g.created_at, g.revoked_at,
                    (SELECT max(expires_at) FROM token t WHERE t.grant_id = g.id AND t.kind = 'access'), g.admin
                FROM token_grant g ORDER BY g.created_at DESC, g.id
                """,
                logger: logger
            ).decode((String, String, Int64, Int64, Int64?, Int64?, Bool).self) {
                grants.append(
                    TokenGrant(
                        id: id,
                        spaces: TokenRotation.spaces(spaces),
                        accessTTL: ttl,
                        createdAt: created,
                        accessExpiresAt: expires,
                        revokedAt: revoked,
                        isAdmin: admin
                    )
                )
            }
            return grants
        }
    }

    public func revoke(grantID: String) async throws -> Bool {
        let now = clock.nowMilliseconds()
        let logger = database.logger
        return try await database.perform { connection in
            var found = false
            for try await _ in try await connection.query(
                "UPDATE token_grant SET revoked_at = coalesce(revoked_at, \(now)) WHERE id = \(grantID) RETURNING id",
                logger: logger
            ) {
                found = true
            }
            return found
        }
    }

    private static func issuePair(
        grantID: String,
        spaces: [String],
        accessTTL: Int64,
        at now: Int64,
        _ connection: PostgresConnection,
        _ logger: Logger
    ) async throws -> IssuedTokens {
        let pair = TokenRotation.Pair(grantID: grantID, spaces: spaces, accessTTL: accessTTL, now: now)
        try await connection.query(
            """
            INSERT INTO token (hash, grant_id, kind, expires_at, created_at) VALUES
                (\(pair.accessHash), \(grantID), 'access', \(pair.accessExpiresAt), \(now)),
                (\(pair.refreshHash), \(grantID), 'refresh', NULL, \(now))
            """,
            logger: logger
        )
        return pair.issued
    }
}
