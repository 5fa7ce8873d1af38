import FerryCore
import FerryLog
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

    public func issue(spaces: [String], accessTTL: Int64, admin: Bool) async throws -> IssuedTokens {
        let now = clock.nowMilliseconds()
        let grantID = TokenSecret.grantID()
        let spaces = admin ? [] : spaces
        return try await database.write { db in
            try db.execute(
                sql: "INSERT INTO token_grant (id, spaces, access_ttl, created_at, admin) VALUES (?, ?, ?, ?, ?)",
                arguments: [grantID, TokenRotation.joined(spaces), accessTTL, now, admin]
            )
            return try Self.issuePair(grantID: grantID, spaces: spaces, accessTTL: accessTTL, at: now, in: db)
        }
    }

    public func authenticate(accessToken: String) async throws -> TokenScope? {
        let hash = TokenSecret.hash(accessToken)
        let now = clock.nowMilliseconds()
        return try await database.read { db in
            let statement = try db.cachedStatement(
                sql: """
                    SELECT g.id, g.spaces, g.admin FROM token t JOIN token_grant g ON g.id = t.grant_id
                    WHERE t.hash = ? AND t.kind = 'access' AND t.expires_at > ? AND g.revoked_at IS NULL
                    """
            )
            guard let row = try Row.fetchOne(statement, arguments: [hash, now]) else { return nil }
            return TokenScope(grantID: row[0], spaces: Set(TokenRotation.spaces(row[1])), isAdmin: row[2])
        }
    }

    public func refresh(refreshToken: String) async throws -> IssuedTokens? {
        let hash = TokenSecret.hash(refreshToken)
        let now = clock.nowMilliseconds()
        return try await database.write { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT g.id, g.spaces, g.access_ttl, g.revoked_at, t.used_at
                    FROM token t JOIN token_grant g ON g.id = t.grant_id
                    WHERE t.hash = ? AND t.kind = 'refresh'
                    """,
                arguments: [hash]
            )
            switch TokenRotation.decide(found: row != nil, grantRevokedAt: row?[3], spentAt: row?[4]) {
            case .refuse:
                return nil
            case .revokeGrant:
                try db.execute(sql: "UPDATE token_grant SET revoked_at = ? WHERE id = ?", arguments: [now, row?[0] as String?])
                return nil
            case .rotate:
                guard let row else { return nil }
                try db.execute(sql: "UPDATE token SET used_at = ? WHERE hash = ?", arguments: [now, hash])
                return try Self.issuePair(grantID: row[0], spaces: TokenRotation.spaces(row[1]), accessTTL: row[2], at: now, in: db)
            }
        }
    }

    public func grants() async throws -> [TokenGrant] {
        try await database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT g.id, g.spaces, g.access_ttl, g.created_at, g.revoked_at,
                        (SELECT max(expires_at) FROM token t WHERE t.grant_id = g.id AND t.kind = 'access'), g.admin
                    FROM token_grant g ORDER BY g.created_at DESC, g.id
                    """
            ).map { row in
                TokenGrant(
                    id: row[0],
                    spaces: TokenRotation.spaces(row[1]),
                    accessTTL: row[2],
                    createdAt: row[3],
                    accessExpiresAt: row[5],
                    revokedAt: row[4],
                    isAdmin: row[6]
                )
            }
        }
    }

    public func revoke(grantID: String) async throws -> Bool {
        let now = clock.nowMilliseconds()
        return try await database.write { db in
            try db.execute(
                sql: "UPDATE token_grant SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
                arguments: [now, grantID]
            )
            return db.changesCount > 0
        }
    }

    private static func issuePair(
        grantID: String,
        spaces: [String],
        accessTTL: Int64,
        at now: Int64,
        in db: Database
    ) throws -> IssuedTokens {
        let pair = TokenRotation.Pair(grantID: grantID, spaces: spaces, accessTTL: accessTTL, now: now)
        let insert = "INSERT INTO token (hash, grant_id, kind, expires_at, created_at) VALUES (?, ?, ?, ?, ?)"
        try db.execute(sql: insert, arguments: [pair.accessHash, grantID, "access", pair.accessExpiresAt, now])
        try db.execute(sql: insert, arguments: [pair.refreshHash, grantID, "refresh", nil as Int64?, now])
        return pair.issued
    }
}
