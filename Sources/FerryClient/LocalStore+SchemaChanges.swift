import FerryCore
import GRDB
import Logging
import Synchronization

/// The schema changes of synced tables: a column added, renamed or dropped, a table added.
///
/// The capture triggers name a table's columns, so they are rebuilt when the columns change;
/// the shadow keeps every field the server sent, including fields of columns this device
/// does not have (written by a newer version of the app), so nothing is lost either way: an
/// older device's edits patch only its own columns, its inserts carry the unknown fields
/// of the shadow, and a column added later is filled from the shadow.
extension LocalStore {
    /// Compares every synced table with the database's schema and, for each table whose
    /// columns changed or whose capture triggers are gone, rebuilds the triggers, pushes the
    /// values written into its new columns before the triggers knew them (but for the
    /// column's default), and writes its rows again from the shadow, so that a new column
    /// shows the values other devices already sent.
    ///
    /// The store does this when it opens and, when the schema changed, before each sync;
    /// call it after a migration that ran while the store was open. A table that no longer
    /// exists, or whose key column is gone, is left as it was and logged.
    /// - Returns: The tables whose triggers were rebuilt.
    @discardableResult
    public func refreshSchema() throws -> [String] {
        try writer.write { db in try refreshSchema(db) }
    }

    /// ``refreshSchema()`` if the database's `schema_version` changed since the store last
    /// compared (a migration of this process or of another one); otherwise one cheap read.
    /// ``SyncEngine`` calls it before each push.
    @discardableResult
    public func refreshSchemaIfChanged() async throws -> [String] {
        let version = try await writer.read { db in try Self.schemaVersion(db) }
        guard checkedSchemaVersion.withLock({ $0 }) != version else { return [] }
        return try await writer.write { db in try self.refreshSchema(db) }
    }

    private static func schemaVersion(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "PRAGMA schema_version") ?? 0
    }

    private func refreshSchema(_ db: Database) throws -> [String] {
        // GRDB caches what it read of the schema; another connection may have changed it.
        db.clearSchemaCache()
        do {
            var rebuilt: [String] = []
            let stored = try Row.fetchAll(db, sql: "SELECT name, key_column, policy, columns, renames FROM ferry_tables ORDER BY name")
            for row in stored {
                let name: String = row[0]
                let key: String = row[1]
                guard try db.tableExists(name) else {
                    logger.warning("a synced table is gone from the database", metadata: ["ferry.table": "\(name)"])
                    continue
                }
                let columns = try db.columns(in: name).map(\.name)
                guard columns.contains(key) else {
                    logger.error(
                        "the key column of a synced table is gone: register the table again with its new key",
                        metadata: ["ferry.table": "\(name)", "ferry.key": "\(key)"]
                    )
                    continue
                }
                let triggers = try Int.fetchOne(
                    db,
                    sql: "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND name LIKE 'ferry\\_%' ESCAPE '\\'",
                    arguments: [name]
                )
                // A renamed column that is gone (renamed again, dropped) is no longer renamed.
                let renames = try Self.storedRenames(row[4], of: name).filter { columns.contains($0.key) && !columns.contains($0.value) }
                let table = SyncedTable(name: name, keyColumn: key, columns: columns, renamedColumns: renames)
                if try Self.storedColumns(row[3], of: name) != columns || triggers != Self.triggerSQL(for: table).count / 2 {
                    try install(table, policy: row[2], db)
                    rebuilt.append(name)
                }
            }
            // The version after the rebuilt triggers (a rolled-back transaction leaves the
            // database at another version, which is compared again at the next check).
            let version = try Self.schemaVersion(db)
            checkedSchemaVersion.withLock { $0 = version }
            if !rebuilt.isEmpty {
                logger.info("rebuilt the capture triggers of changed tables", metadata: ["ferry.tables": "\(rebuilt)"])
            }
            return rebuilt
        }
    }

    /// Runs `body`, a migration that changes synced tables, with Ferry's capture triggers
    /// removed, and puts them back for the tables' new columns before it returns, in the
    /// same transaction. SQLite refuses to drop a column that a trigger names, so a
    /// migration that drops (or drops and re-creates) a column of a synced table runs in
    /// it; any other migration may. Call it on the `Database` of a GRDB migration:
    ///
    /// ```swift
    /// migrator.registerMigration("v2") { db in
    ///     try LocalStore.changeSchema(db) {
    ///         try db.alter(table: "notes") { $0.drop(column: "color") }
    ///     }
    /// }
    /// ```
    ///
    /// The store finishes the change (``refreshSchema()``) when it next opens, or when it
    /// next syncs. Writes of `body` are not captured unless they are to new columns.
    public static func changeSchema<T>(_ db: Database, _ body: () throws -> T) throws -> T {
        guard try db.tableExists("ferry_tables") else { return try body() }
        let tables = try syncedTables(db)
        for table in tables {
            for statement in triggerSQL(for: table) where statement.hasPrefix("DROP") { try db.execute(sql: statement) }
        }
        let result = try body()
        for table in tables where try db.tableExists(table.name) {
            let columns = try db.columns(in: table.name).map(\.name)
            guard columns.contains(table.keyColumn) else { continue }
            let renames = table.renamedColumns.filter { columns.contains($0.key) && !columns.contains($0.value) }
            for statement in triggerSQL(
                for: SyncedTable(name: table.name, keyColumn: table.keyColumn, columns: columns, renamedColumns: renames)
            ) {
                try db.execute(sql: statement)
            }
        }
        return result
    }

    /// Makes `table` sync as it is now: stores its columns, (re)creates its triggers and,
    /// when it is new or its columns changed, pushes the unsynced values of its new columns
    /// and writes its rows from the shadow; then queues the rows the server never saw.
    func install(_ table: SyncedTable, policy: String, _ db: Database) throws {
        let previous = try Row.fetchOne(
            db,
            sql: "SELECT key_column, columns, renames FROM ferry_tables WHERE name = ?",
            arguments: [table.name]
        )
        let previousColumns = try previous.map { try Self.storedColumns($0[1], of: table.name) }
        let previousRenames = try previous.map { try Self.storedRenames($0[2], of: table.name) }
        let sameKey = previous.map { ($0[0] as String) == table.keyColumn } ?? false
        let columnsJSON = String(decoding: JSONValue.array(table.columns.map { .string($0) }).serialized(), as: UTF8.self)
        let renamesJSON = String(decoding: JSONValue.object(table.renamedColumns.mapValues { .string($0) }).serialized(), as: UTF8.self)
        try db.execute(
            sql: """
                INSERT INTO ferry_tables (name, key_column, policy, columns, renames) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET key_column = excluded.key_column, policy = excluded.policy,
                    columns = excluded.columns, renames = excluded.renames
                """,
            arguments: [table.name, table.keyColumn, policy, columnsJSON, renamesJSON]
        )
        for statement in Self.triggerSQL(for: table) { try db.execute(sql: statement) }
        if !sameKey || previousColumns != table.columns || previousRenames != table.renamedColumns {
            if sameKey, let previousColumns {
                try captureUnsyncedValues(table, added: table.columns.filter { !previousColumns.contains($0) }, db)
            }
            try writeShadowRows(of: table, db)
        }
        try backfill(table, db)
    }

    /// Queues a `patch` for each row of `table` whose new columns `added` hold a value that
    /// is neither the column's default nor the value the shadow has for it: a value the app
    /// (or another process) wrote before the triggers were rebuilt, which they did not see.
    private func captureUnsyncedValues(_ table: SyncedTable, added: [String], _ db: Database) throws {
        // A JSON path cannot name a column with a double quote; such a column is left out.
        let columns = added.filter { !$0.contains("\"") && $0 != table.keyColumn }
        guard !columns.isEmpty else { return }
        let info = try Row.fetchAll(db, sql: "SELECT name, dflt_value FROM pragma_table_info(?)", arguments: [table.name])
        var defaults: [String: DatabaseValue] = [:]
        for row in info {
            let name: String = row[0]
            guard columns.contains(name), let expression: String = row[1] else { continue }
            defaults[name] = try DatabaseValue.fetchOne(db, sql: "SELECT \(expression)") ?? .null
        }
        let key = table.keyColumn.quotedDatabaseIdentifier
        let differs = columns.map { column in
            let c = "t.\(column.quotedDatabaseIdentifier)"
            let shadowValue = "json_extract(s.row, \(Self.sqlString("$.\"\(column)\"")))"
            return "(\(c) IS NOT ? AND (s.row IS NULL OR \(c) IS NOT \(shadowValue)))"
        }
        let changedMembers = columns.map { column in
            let c = "t.\(column.quotedDatabaseIdentifier)"
            return "SELECT \(Self.sqlString(column)) AS name, \(Self.capturedJSONTextSQL(c)) AS value WHERE \(c) IS NOT ?"
        }
        let patch = "(SELECT json_group_object(name, json(value)) FROM (\(changedMembers.joined(separator: " UNION ALL "))))"
        let defaultValues = StatementArguments(columns.map { defaults[$0] ?? .null })
        let arguments: StatementArguments = [sessionID, table.name] + defaultValues + [table.name, table.name] + defaultValues
        try db.execute(
            sql: """
                INSERT INTO ferry_outbox (session_id, entity, entity_key, op, payload, base_seq, created_at)
                SELECT ?, ?, CAST(t.\(key) AS TEXT), 'patch', \(patch), coalesce(s.seq, 0), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                FROM \(table.name.quotedDatabaseIdentifier) t
                LEFT JOIN ferry_shadow s ON s.entity = ? AND s.entity_key = CAST(t.\(key) AS TEXT)
                WHERE t.\(key) IS NOT NULL AND (s.row IS NOT NULL OR EXISTS (
                    SELECT 1 FROM ferry_outbox o WHERE o.entity = ? AND o.entity_key = CAST(t.\(key) AS TEXT)))
                  AND (\(differs.joined(separator: " OR ")))
                ORDER BY t.\(key)
                """,
            arguments: arguments
        )
        if db.changesCount > 0 {
            logger.info(
                "queued values written into new columns before the triggers knew them",
                metadata: ["ferry.table": "\(table.name)", "ferry.rows": "\(db.changesCount)"]
            )
        }
    }
}
