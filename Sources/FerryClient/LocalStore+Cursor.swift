import FerryCore
import GRDB
import Logging

extension LocalStore {
    /// Where this device is in a space's log.
    public struct Cursor: Sendable, Hashable {
        /// The last seq applied; the next pull asks for what follows.
        public var lastSeq: Int64
        /// The id of the log the cursor belongs to; `nil` before the first pull.
        public var logID: String?
        /// When a page last moved it, RFC 3339; `nil` before the first page.
        public var pulledAt: String?

        /// Creates a cursor.
        public init(lastSeq: Int64, logID: String?, pulledAt: String? = nil) {
            self.lastSeq = lastSeq
            self.logID = logID
            self.pulledAt = pulledAt
        }
    }

    /// The cursor of `space`: seq 0 and no log before the first pull.
    public func cursor(space: String) throws -> Cursor {
        try writer.read { db in try Self.cursor(space: space, db) }
    }

    /// The cursor of `space`; see ``cursor(space:)``.
    public func cursor(space: String) async throws -> Cursor {
        try await writer.read { db in try Self.cursor(space: space, db) }
    }

    /// The cursor of every space this device has pulled from or reset, by space.
    public func cursors() throws -> [String: Cursor] {
        try writer.read { db in
            var cursors: [String: Cursor] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT space, last_seq, log_id, pulled_at FROM ferry_cursor") {
                cursors[row[0]] = Cursor(lastSeq: row[1], logID: row[2], pulledAt: row[3])
            }
            return cursors
        }
    }

    static func cursor(space: String, _ db: Database) throws -> Cursor {
        let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT last_seq, log_id, pulled_at FROM ferry_cursor WHERE space = ?"),
            arguments: [space]
        )
        return Cursor(lastSeq: row?[0] ?? 0, logID: row?[1], pulledAt: row?[2])
    }

    /// Forgets this device's copy of `space` so that it can pull from the start: removes the
    /// rows that came from the server, clears the shadow, puts acknowledged local mutations
    /// back in the outbox (the new log may not have them) and sets the cursor to 0. Pending
    /// local changes are kept and shown.
    public func reset(space: String, logID: String?) throws {
        try writer.write { db in try self.reset(space: space, logID: logID, db) }
        logger.notice("reset the local copy of the space", metadata: ["ferry.space": "\(space)"])
    }

    /// Forgets this device's copy of `space`; see ``reset(space:logID:)``.
    public func reset(space: String, logID: String?) async throws {
        try await writer.write { db in try self.reset(space: space, logID: logID, db) }
        logger.notice("reset the local copy of the space", metadata: ["ferry.space": "\(space)"])
    }

    /// Forgets this device's copy of `space`, and any bootstrap of it in progress. With
    /// `requeueAcked` false, acknowledged local mutations stay acknowledged (the log they are
    /// in is kept: a bootstrap after `410 history_pruned`).
    func reset(space: String, logID: String?, requeueAcked: Bool = true, _ db: Database) throws {
        try withApplyGuard(db) {
            let tables = try Self.syncedTables(db)
            for table in tables {
                try db.execute(
                    sql: """
                        DELETE FROM \(table.name.quotedDatabaseIdentifier)
                        WHERE CAST(\(table.keyColumn.quotedDatabaseIdentifier) AS TEXT) IN
                            (SELECT entity_key FROM ferry_shadow WHERE entity = ?)
                        """,
                    arguments: [table.name]
                )
            }
            try db.execute(sql: "DELETE FROM ferry_shadow")
            if requeueAcked {
                try db.execute(sql: "UPDATE ferry_outbox SET state = 'pending', server_seq = NULL WHERE state = 'acked'")
            }
            try db.execute(sql: "DELETE FROM ferry_bootstrap WHERE space = ?", arguments: [space])
            try db.execute(sql: "DELETE FROM ferry_bootstrap_chunks WHERE space = ?", arguments: [space])
            try db.execute(sql: "DELETE FROM ferry_bootstrap_keys")
            try db.execute(
                sql: """
                    INSERT INTO ferry_cursor (space, last_seq, log_id) VALUES (?, 0, ?)
                    ON CONFLICT (space) DO UPDATE SET last_seq = 0, log_id = excluded.log_id
                    """,
                arguments: [space, logID]
            )
            let byName = Dictionary(uniqueKeysWithValues: tables.map { ($0.name, $0) })
            for row in try Row.fetchAll(
                db,
                sql: "SELECT DISTINCT entity, entity_key FROM ferry_outbox WHERE state IN ('pending', 'acked')"
            ) {
                guard let table = byName[row[0]] else { continue }
                try rebuildVisibleRow(table, key: row[1], appliedSeq: 0, db)
            }
        }
    }
}
