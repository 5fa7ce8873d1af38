import FerryCore
import FerryTestSupport
import Foundation
import GRDB
import Testing

@testable import FerryServer

/// A database made before admin grants existed gains them on the next start, and its grants
/// stay what they were: grants of spaces.
@Suite struct AdminSchemaUpgradeTests {
    private static let oldToken = "fat_aTokenIssuedBeforeAdminGrantsExisted"

    @Test func anSQLiteFileOfTheSchemaBeforeGainsAdminGrants() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("old.sqlite")
        do {
            let old = try DatabaseQueue(path: path)
            try SQLiteDatabase.migrator.migrate(old, upTo: "v3 snapshots")
            try await old.write { db in
                try db.execute(sql: "INSERT INTO token_grant (id, spaces, access_ttl, created_at) VALUES ('g_old', 'notes', 60, 1)")
                try db.execute(
                    sql: "INSERT INTO token (hash, grant_id, kind, expires_at, created_at) VALUES (?, 'g_old', 'access', ?, 1)",
                    arguments: [TokenSecret.hash(Self.oldToken), Int64.max]
                )
            }
            try old.close()
        }
        let database = try SQLiteDatabase(configuration: SQLiteConfiguration(path: path))
        let tokens = SQLiteTokenStore(database: database)
        let scope = try #require(try await tokens.authenticate(accessToken: Self.oldToken))
        #expect(scope.spaces == ["notes"] && !scope.isAdmin)
        #expect(try await tokens.grants().map(\.isAdmin) == [false])
        let admin = try await tokens.issue(spaces: [], accessTTL: 60, admin: true)
        #expect(try await tokens.authenticate(accessToken: admin.accessToken)?.isAdmin == true)
        _ = folder
    }

    @Test func aPostgreSQLDatabaseOfTheSchemaBeforeGainsAdminGrants() async throws {
        guard PostgresTestServer.adminURL != nil else { return }
        try await PostgresTestServer.withDatabase { url in
            for (version, statements) in PostgresBackend.migrations where version < 5 {
                for statement in statements { try await PostgresTestServer.admin(url, statement) }
                try await PostgresTestServer.admin(
                    url,
                    "CREATE TABLE IF NOT EXISTS ferry_schema (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
                try await PostgresTestServer.admin(url, "INSERT INTO ferry_schema (version) VALUES (\(version))")
            }
            try await PostgresTestServer.admin(
                url,
                "INSERT INTO token_grant (id, spaces, access_ttl, created_at) VALUES ('g_old', 'notes', 60, 1)"
            )
            try await PostgresTestServer.admin(
                url,
                """
                INSERT INTO token (hash, grant_id, kind, expires_at, created_at)
                VALUES ('\(TokenSecret.hash(Self.oldToken))', 'g_old', 'access', \(Int64.max), 1)
                """
            )
            let database = try PostgresBackend(configuration: .init(url: url, maximumConnections: 2)) { _, _ in }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await database.run() }
                defer { group.cancelAll() }
                try await database.migrate()
                let tokens = PostgresTokenStore(database: database)
                let scope = try #require(try await tokens.authenticate(accessToken: Self.oldToken))
                #expect(scope.spaces == ["notes"] && !scope.isAdmin)
                #expect(try await tokens.grants().map(\.isAdmin) == [false])
                let admin = try await tokens.issue(spaces: [], accessTTL: 60, admin: true)
                #expect(try await tokens.authenticate(accessToken: admin.accessToken)?.isAdmin == true)
            }
        }
    }
}
