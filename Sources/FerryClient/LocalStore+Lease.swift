import FerryCore
import GRDB

extension LocalStore {
    /// Who holds a database's sync lease: only that sync manager syncs the database.
    public struct LeaseHolder: Sendable, Hashable {
        /// The holder's name (``SyncManager/leaseOwner``).
        public var owner: String
        /// When the lease ends unless renewed, in milliseconds since 1970.
        public var expiresAt: Int64

        /// Creates a lease holder.
        public init(owner: String, expiresAt: Int64) {
            self.owner = owner
            self.expiresAt = expiresAt
        }
    }

    /// Takes or renews the sync lease for `owner` until `duration` from now; `false` when
    /// another owner holds an unexpired one.
    public func acquireLease(owner: String, duration: Duration) async throws -> Bool {
        let now = clock.nowMilliseconds()
        let (seconds, attoseconds) = duration.components
        let expires = now + seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return try await writer.write { db in
            if let row = try Row.fetchOne(db, sql: "SELECT owner, expires_at FROM ferry_lease WHERE id = 1"),
                (row[0] as String) != owner, (row[1] as Int64) > now
            {
                return false
            }
            try db.execute(
                sql: """
                    INSERT INTO ferry_lease (id, owner, expires_at) VALUES (1, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
                    """,
                arguments: [owner, expires]
            )
            return true
        }
    }

    /// Gives up the lease if `owner` holds it. This synchronous form also works in a
    /// cancelled task (a manager that stops gives up its lease so).
    public func releaseLease(owner: String) throws {
        try writer.write { db in try Self.releaseLease(owner: owner, db) }
    }

    /// Gives up the lease if `owner` holds it.
    public func releaseLease(owner: String) async throws {
        try await writer.write { db in try Self.releaseLease(owner: owner, db) }
    }

    private static func releaseLease(owner: String, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM ferry_lease WHERE id = 1 AND owner = ?", arguments: [owner])
    }

    /// Who holds the lease, if anyone does.
    public func leaseHolder() throws -> LeaseHolder? {
        try writer.read { db in
            try Row.fetchOne(db, sql: "SELECT owner, expires_at FROM ferry_lease WHERE id = 1").map {
                LeaseHolder(owner: $0[0], expiresAt: $0[1])
            }
        }
    }
}
