import FerryCore
import Foundation
import GRDB
import Logging
import Synchronization

/// A table whose writes sync: its name (the mutations' `entity`) and its key column.
public struct SyncedTable: Sendable, Hashable {
    /// The table's name, used as the mutations' entity.
    public var name: String
    /// The column that identifies a row (the mutations' `entity_key`).
    public var keyColumn: String
    /// The table's columns when it was registered.
    public var columns: [String]
    /// Columns renamed while older versions of the app still sync: each new name and the old
    /// name its values are also sent under (see ``LocalStore/register(table:keyColumn:policy:renamedColumns:)``).
    public var renamedColumns: [String: String] = [:]

    /// The members a captured row is written with: each column under its name, and a renamed
    /// column under its old name too, sorted by member name.
    var capturedMembers: [(member: String, column: String)] {
        (columns.map { ($0, $0) } + renamedColumns.map { ($0.value, $0.key) }).sorted { $0.0 < $1.0 }
    }

    /// `record` as the app's row shows it: a renamed column takes the value of its old name
    /// when the record has it. Devices with the new name write both names alike, so where
    /// they differ an older version of the app wrote the old one last.
    func visible(_ record: RecordFields) -> RecordFields {
        guard !renamedColumns.isEmpty else { return record }
        var visible = record
        for (column, old) in renamedColumns {
            if let value = record[old] { visible[column] = value }
        }
        return visible
    }

    /// `record`, a version Ferry writes itself, with each renamed column's value also under
    /// its old name.
    func outgoing(_ record: RecordFields) -> RecordFields {
        guard !renamedColumns.isEmpty else { return record }
        var outgoing = record
        for (column, old) in renamedColumns {
            if let value = record[column] { outgoing[old] = value }
        }
        return outgoing
    }
}

/// Ferry's side of an app's SQLite database: the outbox of local changes, the copy of the
/// server's state, the cursor, conflicts, dead letters and the sync lease.
///
/// Open it on the app's GRDB `DatabaseQueue` or `DatabasePool` and register the tables that
/// sync. From then on every insert, update and delete of those tables, by the app or by any
/// other program, is captured into the outbox in the same transaction by SQLite triggers:
/// inserts as `upsert`, updates as `patch` of the changed columns, deletes as `delete`.
///
/// The store keeps, per record, the server's version (the *shadow*). The app's tables always
/// show the shadow with the pending local changes replayed on top, so remote changes never
/// overwrite a local change the server has not ordered yet, and all devices hold the same rows
/// once their outboxes are empty.
public final class LocalStore: Sendable {
    /// The app's database.
    public let writer: any DatabaseWriter
    /// This installation's id, kept in the database.
    public let deviceID: String
    /// This opening's id: new each time a store is opened.
    public let sessionID: String
    let clock: WallClock
    let logger: Logger
    private let policies = Mutex<[String: ConflictPolicy]>([:])
    /// The database's `schema_version` when the synced tables were last compared with it.
    let checkedSchemaVersion = Mutex<Int64?>(nil)

    /// Opens the store: migrates Ferry's tables, creates the device id on first use, starts a
    /// new session, and catches up with the schema changes of synced tables made since the
    /// last opening (``refreshSchema()``).
    /// - Parameters:
    ///   - writer: The app's database; an in-memory `DatabaseQueue()` will do for tests.
    ///   - clock: Timestamps conflicts, dead letters, the cursor and the lease.
    ///   - logger: Where the store logs; by default nowhere.
    public init(
        _ writer: any DatabaseWriter,
        clock: WallClock = .system,
        logger: Logger = Logger(label: "ferry.client", factory: { _ in SwiftLogNoOpLogHandler() })
    )
        throws
    {
        self.writer = writer
        self.clock = clock
        self.logger = logger
        try Self.migrator.migrate(writer)
        let session = "s-" + UUID().uuidString.lowercased()
        self.sessionID = session
        self.deviceID = try writer.write { db in
            let device: String
            if let existing = try String.fetchOne(db, sql: "SELECT value FROM ferry_meta WHERE key = 'device_id'") {
                device = existing
            } else {
                device = "d-" + UUID().uuidString.lowercased()
                try db.execute(sql: "INSERT INTO ferry_meta (key, value) VALUES ('device_id', ?)", arguments: [device])
            }
            try db.execute(
                sql: "INSERT INTO ferry_meta (key, value) VALUES ('session_id', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                arguments: [session]
            )
            return device
        }
        try refreshSchema()
    }

    // MARK: Registration

    /// Makes `table`'s writes sync, with `policy` for its conflicts.
    ///
    /// Creates the capture triggers (again, if the table's columns changed), writes the
    /// rows the server already sent for this entity, and puts every existing row that
    /// neither came from the server nor waits in the outbox into the outbox as an `upsert`,
    /// so that the first sync of an existing database loses nothing.
    /// - Parameters:
    ///   - keyColumn: A column with a primary key or unique index; `nil` for the table's
    ///     single-column primary key.
    ///   - renamedColumns: Columns the app renamed while older versions of it still sync,
    ///     each new name with its old one (`["text": "body"]`): the column's changes are
    ///     sent under both names, and a change an older version makes under the old name
    ///     shows in the column. Registering without it stops sending the old names.
    /// - Throws: ``LocalStoreError`` `unknownTable` when the database has no such table,
    ///   `unsyncableTable` when its name cannot be an entity name, it has no usable key, or
    ///   a renamed column is not a column of it or its old name still is.
    public func register(
        table: String,
        keyColumn: String? = nil,
        policy: ConflictPolicy = .lastWriterWins,
        renamedColumns: [String: String] = [:]
    ) throws {
        guard ProtocolRules.isValidEntity(table) else {
            throw LocalStoreError(.unsyncableTable, "table name '\(table)' cannot be an entity name (^[A-Za-z][A-Za-z0-9_.-]{0,63}$)")
        }
        try writer.write { db in
            guard try db.tableExists(table) else { throw LocalStoreError(.unknownTable, "no table '\(table)'") }
            let columns = try db.columns(in: table).map(\.name)
            let key: String
            if let keyColumn {
                key = keyColumn
            } else {
                let primaryKey = try db.primaryKey(table)
                guard primaryKey.columns.count == 1, let primary = primaryKey.columns.first, columns.contains(primary) else {
                    throw LocalStoreError(.unsyncableTable, "table '\(table)' has no single-column primary key: name --key")
                }
                key = primary
            }
            guard columns.contains(key) else { throw LocalStoreError(.unsyncableTable, "table '\(table)' has no column '\(key)'") }
            guard try db.table(table, hasUniqueKey: [key]) else {
                throw LocalStoreError(.unsyncableTable, "column '\(key)' of '\(table)' is neither the primary key nor unique")
            }
            for (column, old) in renamedColumns {
                guard columns.contains(column), column != key else {
                    throw LocalStoreError(.unsyncableTable, "renamed column '\(column)' is not a non-key column of '\(table)'")
                }
                guard !columns.contains(old), !renamedColumns.keys.contains(old) else {
                    throw LocalStoreError(.unsyncableTable, "the old name '\(old)' of '\(column)' is still a column of '\(table)'")
                }
            }
            guard Set(renamedColumns.values).count == renamedColumns.count else {
                throw LocalStoreError(.unsyncableTable, "two columns of '\(table)' are renamed from the same old name")
            }
            let synced = SyncedTable(name: table, keyColumn: key, columns: columns, renamedColumns: renamedColumns)
            try self.install(synced, policy: policy.storedName, db)
        }
        policies.withLock { $0[table] = policy }
    }

    /// Sets the conflict policy of a registered table for this process (a `custom` resolver
    /// lives in memory only; a table registered as `custom` by another process settles by
    /// ``ConflictPolicy/lastWriterWins`` until its resolver is set).
    public func setPolicy(_ policy: ConflictPolicy, for table: String) {
        policies.withLock { $0[table] = policy }
    }

    /// The registered tables.
    /// - Throws: ``LocalStoreError`` `corruptData` when a table's stored column list does not read.
    public func syncedTables() throws -> [SyncedTable] {
        try writer.read { db in try Self.syncedTables(db) }
    }

    func policy(for table: String, stored: String) -> ConflictPolicy {
        if let policy = policies.withLock({ $0[table] }) { return policy }
        return stored == "remote_wins" ? .remoteWins : .lastWriterWins
    }

    static func syncedTables(_ db: Database) throws -> [SyncedTable] {
        try Row.fetchAll(db, sql: "SELECT name, key_column, columns, renames FROM ferry_tables ORDER BY name").map { row in
            let name: String = row[0]
            return SyncedTable(
                name: name,
                keyColumn: row[1],
                columns: try storedColumns(row[2], of: name),
                renamedColumns: try storedRenames(row[3], of: name)
            )
        }
    }

    /// The column names stored for `table`: a JSON array of strings.
    static func storedColumns(_ text: String, of table: String) throws -> [String] {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: text)
        } catch {
            throw LocalStoreError(.corruptData, "the stored columns of '\(table)' are not JSON", underlying: error)
        }
        guard case .array(let items) = value else {
            throw LocalStoreError(.corruptData, "the stored columns of '\(table)' are not an array")
        }
        return try items.map { item in
            guard case .string(let column) = item else {
                throw LocalStoreError(.corruptData, "the stored columns of '\(table)' are not all names")
            }
            return column
        }
    }

    /// The renamed columns stored for `table`: a JSON object of new names to old names.
    static func storedRenames(_ text: String, of table: String) throws -> [String: String] {
        guard let object = try? JSONValue(parsing: text).objectValue else {
            throw LocalStoreError(.corruptData, "the stored renamed columns of '\(table)' are not a JSON object")
        }
        return try object.mapValues { value in
            guard case .string(let old) = value else {
                throw LocalStoreError(.corruptData, "the stored renamed columns of '\(table)' are not all names")
            }
            return old
        }
    }

    /// Runs `body` with capture triggers switched off, for writes that come from the server.
    func withApplyGuard<T>(_ db: Database, _ body: () throws -> T) throws -> T {
        try db.execute(sql: "UPDATE ferry_guard SET applying = 1")
        defer { try? db.execute(sql: "UPDATE ferry_guard SET applying = 0") }
        return try body()
    }

    /// Writes the rows the server sent for `table` before it was registered (or before its
    /// columns changed). A row the table refuses (a constraint the record breaks) is left
    /// out: the mutation that made it is in the dead letters already, or will be.
    func writeShadowRows(of table: SyncedTable, _ db: Database) throws {
        try withApplyGuard(db) {
            let applied = try Int64.fetchOne(db, sql: "SELECT max(last_seq) FROM ferry_cursor") ?? 0
            let keys = try String.fetchAll(db, sql: "SELECT entity_key FROM ferry_shadow WHERE entity = ?", arguments: [table.name])
            for entityKey in keys {
                do {
                    try rebuildVisibleRow(table, key: entityKey, appliedSeq: applied, db)
                } catch let error as DatabaseError where PageWriter.isRefusal(error) {
                    logger.notice(
                        "the table refuses a record the server sent: left out",
                        metadata: [
                            "ferry.table": "\(table.name)", "ferry.entity_key": "\(entityKey)", "ferry.error": "\(error.message ?? "")",
                        ]
                    )
                }
            }
        }
    }

    /// Puts rows that are neither in the shadow nor in the outbox into the outbox.
    func backfill(_ table: SyncedTable, _ db: Database) throws {
        let key = table.keyColumn.quotedDatabaseIdentifier
        let payload = Self.jsonObjectSQL(table, prefix: "t.")
        try db.execute(
            sql: """
                INSERT INTO ferry_outbox (session_id, entity, entity_key, op, payload, base_seq, created_at)
                SELECT ?, ?, CAST(t.\(key) AS TEXT), 'upsert', \(payload), 0, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                FROM \(table.name.quotedDatabaseIdentifier) t
                WHERE t.\(key) IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM ferry_shadow s WHERE s.entity = ? AND s.entity_key = CAST(t.\(key) AS TEXT))
                  AND NOT EXISTS (SELECT 1 FROM ferry_outbox o WHERE o.entity = ? AND o.entity_key = CAST(t.\(key) AS TEXT))
                ORDER BY t.\(key)
                """,
            arguments: [sessionID, table.name, table.name, table.name]
        )
        if db.changesCount > 0 {
            logger.info(
                "queued existing rows for their first push",
                metadata: ["ferry.table": "\(table.name)", "ferry.rows": "\(db.changesCount)"]
            )
        }
    }
}
