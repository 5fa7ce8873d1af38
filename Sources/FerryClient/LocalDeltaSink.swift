import Crypto
import FerryCore
import GRDB

/// The default ``FerryCore/DeltaSink``: a table of the device's database, written by the
/// ``LocalStore``, with the tokens kept by Ferry in the same database.
///
/// The table holds one row per outside record:
///
/// | column | holds |
/// | --- | --- |
/// | `source` | the stream: a DAV collection's URL as given, `email`, `contacts`, `calendar:ID` |
/// | `id` | the record's id in the stream: a DAV member's href, an API record's id |
/// | `etag` | the record's version tag, `NULL` where the source has none |
/// | `data` | the record as the source gave it: iCalendar or vCard text, or JSON |
/// | `ref` | a key made of `source` and `id` (hex SHA-256, 32 digits), unique: the key column for `ferry track` |
///
/// with `PRIMARY KEY (source, id)`. Each page is staged in one transaction (in
/// `ferry_delta_staged`); the run's end applies them to the table and stores the new tokens
/// in one transaction, so the table only ever shows finished syncs and the tokens are never
/// ahead of its rows. A record whose `etag` and `data` did not change is not rewritten, so a
/// tracked table sends only real changes on into its space.
public struct LocalDeltaSink: DeltaSink {
    /// The default table name.
    public static let defaultTable = "delta_records"

    /// The store written through.
    public let store: LocalStore
    /// The table the records go into.
    public let table: String

    /// Creates the sink. The table is created by the first sync that finishes, if the
    /// database has none by that name.
    /// - Throws: ``LocalStoreError`` `unsyncableTable` when the name is not a valid table
    ///   name (the entity-name rule, so that the table can be tracked), or when an existing
    ///   table lacks one of the columns above.
    public init(store: LocalStore, table: String = LocalDeltaSink.defaultTable) throws {
        guard ProtocolRules.isValidEntity(table) else {
            throw LocalStoreError(.unsyncableTable, "'\(table)' cannot be a delta table name (^[A-Za-z][A-Za-z0-9_.-]{0,63}$)")
        }
        self.store = store
        self.table = table
        try store.writer.read { db in
            guard try db.tableExists(table) else { return }
            let columns = Set(try db.columns(in: table).map(\.name))
            let missing = ["source", "id", "etag", "data", "ref"].filter { !columns.contains($0) }
            guard missing.isEmpty else {
                throw LocalStoreError(
                    .unsyncableTable,
                    "table '\(table)' exists but lacks the delta columns \(missing.joined(separator: ", "))"
                )
            }
        }
    }

    /// Creates the table now if the database has none by that name: before registering it
    /// for sync (`LocalStore.register(table:keyColumn:)` with key column `ref`), or on a
    /// device that only receives the records through Ferry. Otherwise the first sync that
    /// finishes creates it, so that a failed first sync leaves the database without it.
    public func createTable() async throws {
        try await store.writer.write { db in try Self.createTable(table, db) }
    }

    static func createTable(_ table: String, _ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE IF NOT EXISTS \(table.quotedDatabaseIdentifier) (
                    source TEXT NOT NULL,
                    id TEXT NOT NULL,
                    etag TEXT,
                    data TEXT NOT NULL,
                    ref TEXT NOT NULL UNIQUE,
                    PRIMARY KEY (source, id)
                )
                """
        )
    }

    /// The `ref` of a record: its stream and id, hashed into 32 hex digits, the same on every
    /// device.
    public static func ref(stream: String, id: String) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(stream.utf8))
        hasher.update(data: [0])
        hasher.update(data: Array(id.utf8))
        return hasher.finalize().prefix(16).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// The tokens in `ferry_delta_tokens` for this table and `stream`.
    public func tokens(stream: String) async throws -> DeltaTokens? {
        try await store.writer.read { db in
            try Row.fetchOne(
                db,
                sql: "SELECT updated_token, deleted_token FROM ferry_delta_tokens WHERE target = ? AND stream = ?",
                arguments: [table, stream]
            ).map { DeltaTokens(updated: $0[0], deleted: $0[1]) }
        }
    }

    /// Deletes what an unfinished run staged for this table and `stream`.
    public func begin(stream: String, fullSync: Bool) async throws {
        try await store.writer.write { db in
            try db.execute(sql: "DELETE FROM ferry_delta_staged WHERE target = ? AND stream = ?", arguments: [table, stream])
        }
    }

    /// Stages `records` in `ferry_delta_staged`, with their `ref`, in one transaction.
    public func upsert(_ records: [DeltaRecord], stream: String) async throws {
        try await store.writer.write { db in
            let stage = try db.cachedStatement(
                sql: """
                    INSERT INTO ferry_delta_staged (target, stream, id, deleted, etag, data, ref) VALUES (?, ?, ?, 0, ?, ?, ?)
                    ON CONFLICT (target, stream, id) DO UPDATE SET deleted = 0, etag = excluded.etag, data = excluded.data,
                        ref = excluded.ref
                    """
            )
            for record in records {
                try stage.execute(arguments: [table, stream, record.id, record.etag, record.data, Self.ref(stream: stream, id: record.id)])
            }
        }
    }

    /// Stages the deletion of `ids` in `ferry_delta_staged`, in one transaction.
    public func delete(ids: [String], stream: String) async throws {
        try await store.writer.write { db in
            let stage = try db.cachedStatement(
                sql: """
                    INSERT INTO ferry_delta_staged (target, stream, id, deleted) VALUES (?, ?, ?, 1)
                    ON CONFLICT (target, stream, id) DO UPDATE SET deleted = 1
                    """
            )
            for id in ids { try stage.execute(arguments: [table, stream, id]) }
        }
    }

    /// In one transaction: creates the table if missing, writes the staged records that
    /// changed, deletes the staged deletions, sweeps (a full sync), clears the staging and
    /// stores `tokens` with the time.
    public func finish(stream: String, tokens: DeltaTokens, sweep: Bool) async throws -> Int {
        let quoted = table.quotedDatabaseIdentifier
        let now = RFC3339.format(millisecondsSince1970: store.clock.nowMilliseconds())
        return try await store.writer.write { db in
            try Self.createTable(table, db)
            // Unchanged records are not written again, so a tracked table sends on only real changes.
            try db.execute(
                sql: """
                    INSERT INTO \(quoted) (source, id, etag, data, ref)
                    SELECT stream, id, etag, data, ref FROM ferry_delta_staged
                    WHERE target = ? AND stream = ? AND deleted = 0 ORDER BY id
                    ON CONFLICT (source, id) DO UPDATE SET etag = excluded.etag, data = excluded.data
                    WHERE etag IS NOT excluded.etag OR data IS NOT excluded.data
                    """,
                arguments: [table, stream]
            )
            try db.execute(
                sql: """
                    DELETE FROM \(quoted) WHERE source = ? AND id IN (
                        SELECT id FROM ferry_delta_staged WHERE target = ? AND stream = ? AND deleted = 1)
                    """,
                arguments: [stream, table, stream]
            )
            var swept = 0
            if sweep {
                try db.execute(
                    sql: """
                        DELETE FROM \(quoted) WHERE source = ? AND NOT EXISTS (
                            SELECT 1 FROM ferry_delta_staged s
                            WHERE s.target = ? AND s.stream = \(quoted).source AND s.id = \(quoted).id AND s.deleted = 0)
                        """,
                    arguments: [stream, table]
                )
                swept = db.changesCount
            }
            try db.execute(sql: "DELETE FROM ferry_delta_staged WHERE target = ? AND stream = ?", arguments: [table, stream])
            try db.execute(
                sql: """
                    INSERT INTO ferry_delta_tokens (target, stream, updated_token, deleted_token, synced_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (target, stream) DO UPDATE SET updated_token = excluded.updated_token,
                        deleted_token = excluded.deleted_token, synced_at = excluded.synced_at
                    """,
                arguments: [table, stream, tokens.updated, tokens.deleted, now]
            )
            return swept
        }
    }
}

extension LocalStore {
    /// The default delta-sync sink: `table` of this store's database (created if missing),
    /// with the tokens kept beside it. See ``LocalDeltaSink``.
    public func deltaSink(table: String = LocalDeltaSink.defaultTable) throws -> LocalDeltaSink {
        try LocalDeltaSink(store: self, table: table)
    }
}
