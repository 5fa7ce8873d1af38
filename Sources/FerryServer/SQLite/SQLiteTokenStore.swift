import FerryCore
import GRDB

/// The ``TokenStore`` of a single server, in the same SQLite file as its logs.
public final class SQLiteTokenStore: TokenStore {
    private let database: SQLiteDatabase
    private let clock: WallClock

    /// Creates the store on an opened database.
    /// - Parameter clock: Decides which tokens have expired.
    public init(database: SQLiteDatabase, clock: WallClock = .system) {
        self.database = database
        self.clock = clock
    }

    public func issue(spaces: [String], accessTTL: Int64) async throws -> IssuedTokens {
        let now = clock.nowMilliseconds()
        let grantID = TokenSecret.grantID()
        return try await database.pool.write { db in
            try db.execute(
                sql: "INSERT INTO token_grant (id, spaces, access_ttl, created_at) VALUES (?, ?, ?, ?)",
                arguments: [grantID, spaces.joined(separator: ","), accessTTL, now]
            )
            return try Self.issuePair(grantID: grantID, spaces: spaces, accessTTL: accessTTL, at: now, in: db)
        }
    }

    public func authenticate(accessToken: String) async throws -> TokenScope? {
        let hash = TokenSecret.hash(accessToken)
        let now = clock.nowMilliseconds()
        return try await database.pool.read { db in
            let statement = try db.cachedStatement(
                sql: """
                    SELECT g.id, g.spaces FROM token t JOIN token_grant g ON g.id = t.grant_id
                    WHERE t.hash = ? AND t.kind = 'access' AND t.expires_at > ? AND g.revoked_at IS NULL
                    """
            )
            guard let row = try Row.fetchOne(statement, arguments: [hash, now]) else { return nil }
            return TokenScope(grantID: row[0], spaces: Set(Self.spaces(row[1])))
        }
    }

    public func refresh(refreshToken: String) async throws -> IssuedTokens? {
        let hash = TokenSecret.hash(refreshToken)
        let now = clock.nowMilliseconds()
        return try await database.pool.write { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT g.id, g.spaces, g.access_ttl, g.revoked_at, t.used_at
                        FROM token t JOIN token_grant g ON g.id = t.grant_id
                        WHERE t.hash = ? AND t.kind = 'refresh'
                        """,
                    arguments: [hash]
                )
            else { return nil }
            let grantID: String = row[0]
            let revokedAt: Int64? = row[3]
            let usedAt: Int64? = row[4]
            guard revokedAt == nil else { return nil }
            if usedAt != nil {
                // A spent refresh token presented again: someone holds a copy. Revoke the grant.
                try db.execute(sql: "UPDATE token_grant SET revoked_at = ? WHERE id = ?", arguments: [now, grantID])
                return nil
            }
            try db.execute(sql: "UPDATE token SET used_at = ? WHERE hash = ?", arguments: [now, hash])
            return try Self.issuePair(grantID: grantID, spaces: Self.spaces(row[1]), accessTTL: row[2], at: now, in: db)
        }
    }

    public func grants() async throws -> [TokenGrant] {
        try await database.pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT g.id, g.spaces, g.access_ttl, g.created_at, g.revoked_at,
                        (SELECT max(expires_at) FROM token t WHERE t.grant_id = g.id AND t.kind = 'access')
                    FROM token_grant g ORDER BY g.created_at DESC, g.id
                    """
            ).map { row in
                TokenGrant(
                    id: row[0],
                    spaces: Self.spaces(row[1]),
                    accessTTL: row[2],
                    createdAt: row[3],
                    accessExpiresAt: row[5],
                    revokedAt: row[4]
                )
            }
        }
    }

    public func revoke(grantID: String) async throws -> Bool {
        let now = clock.nowMilliseconds()
        return try await database.pool.write { db in
            try db.execute(
                sql: "UPDATE token_grant SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
                arguments: [now, grantID]
            )
            return db.changesCount > 0
        }
    }

    private static func spaces(_ text: String) -> [String] {
        text.split(separator: ",").map(String.init)
    }

    private static func issuePair(
        grantID: String,
        spaces: [String],
        accessTTL: Int64,
        at now: Int64,
        in db: Database
    ) throws
        -> IssuedTokens
    {
        let access = TokenSecret.generate(prefix: TokenSecret.accessPrefix)
        let refresh = TokenSecret.generate(prefix: TokenSecret.refreshPrefix)
        let insert = "INSERT INTO token (hash, grant_id, kind, expires_at, created_at) VALUES (?, ?, ?, ?, ?)"
        try db.execute(
            sql: insert,
            arguments: [TokenSecret.hash(access), grantID, "access", now + accessTTL * 1000, now]
        )
        try db.execute(sql: insert, arguments: [TokenSecret.hash(refresh), grantID, "refresh", nil as Int64?, now])
        return IssuedTokens(grantID: grantID, accessToken: access, refreshToken: refresh, expiresIn: accessTTL, spaces: spaces)
    }
}
