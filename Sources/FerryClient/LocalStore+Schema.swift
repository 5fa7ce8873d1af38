import FerryCore
import Foundation
import GRDB

extension LocalStore {
    /// Ferry's tables in the app's database; a later version adds migrations, never edits these.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("ferry-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE ferry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                    CREATE TABLE ferry_guard (id INTEGER PRIMARY KEY CHECK (id = 1), applying INTEGER NOT NULL);
                    INSERT INTO ferry_guard (id, applying) VALUES (1, 0);
                    CREATE TABLE ferry_tables (
                        name TEXT PRIMARY KEY,
                        key_column TEXT NOT NULL,
                        policy TEXT NOT NULL,
                        columns TEXT NOT NULL
                    );
                    CREATE TABLE ferry_outbox (
                        client_action_id INTEGER PRIMARY KEY AUTOINCREMENT,
                        session_id TEXT NOT NULL,
                        entity TEXT NOT NULL,
                        entity_key TEXT NOT NULL,
                        op TEXT NOT NULL,
                        payload TEXT,
                        base_seq INTEGER NOT NULL DEFAULT 0,
                        created_at TEXT NOT NULL,
                        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'acked', 'rejected')),
                        server_seq INTEGER,
                        reason TEXT
                    );
                    CREATE INDEX ferry_outbox_record ON ferry_outbox (entity, entity_key);
                    CREATE INDEX ferry_outbox_state ON ferry_outbox (state, client_action_id);
                    CREATE TABLE ferry_shadow (
                        entity TEXT NOT NULL,
                        entity_key TEXT NOT NULL,
                        row TEXT,
                        seq INTEGER NOT NULL,
                        PRIMARY KEY (entity, entity_key)
                    ) WITHOUT ROWID;
                    CREATE TABLE ferry_cursor (
                        space TEXT PRIMARY KEY,
                        last_seq INTEGER NOT NULL,
                        log_id TEXT,
                        pulled_at TEXT
                    );
                    CREATE TABLE ferry_conflicts (
                        id INTEGER PRIMARY KEY,
                        entity TEXT NOT NULL,
                        entity_key TEXT NOT NULL,
                        local TEXT,
                        remote TEXT,
                        base_seq INTEGER,
                        local_seq INTEGER,
                        remote_seq INTEGER NOT NULL,
                        detected_at TEXT NOT NULL,
                        resolution TEXT NOT NULL,
                        acknowledged_at TEXT,
                        UNIQUE (entity, entity_key, remote_seq)
                    );
                    CREATE TABLE ferry_dead_letters (
                        id INTEGER PRIMARY KEY,
                        space TEXT NOT NULL,
                        seq INTEGER NOT NULL,
                        entity TEXT NOT NULL,
                        entity_key TEXT NOT NULL,
                        op TEXT NOT NULL,
                        payload TEXT,
                        device_id TEXT NOT NULL,
                        error TEXT NOT NULL,
                        failed_at TEXT NOT NULL,
                        UNIQUE (space, seq)
                    );
                    CREATE TABLE ferry_lease (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        owner TEXT NOT NULL,
                        expires_at INTEGER NOT NULL
                    );
                    """
            )
        }
        migrator.registerMigration("ferry-v2-bootstrap") { db in
            // The bootstrap from a snapshot in progress, per space, and the chunks it applied:
            // an interrupted bootstrap resumes without downloading them again.
            try db.execute(
                sql: """
                    CREATE TABLE ferry_bootstrap (
                        space TEXT PRIMARY KEY,
                        log_id TEXT NOT NULL,
                        snapshot_seq INTEGER NOT NULL,
                        started_at TEXT NOT NULL
                    );
                    CREATE TABLE ferry_bootstrap_chunks (
                        space TEXT NOT NULL,
                        chunk_id TEXT NOT NULL,
                        records INTEGER NOT NULL,
                        bytes INTEGER NOT NULL,
                        PRIMARY KEY (space, chunk_id)
                    ) WITHOUT ROWID;
                    """
            )
        }
        migrator.registerMigration("ferry-v3-delta") { db in
            // Delta sync from outside sources: the tokens of each (table, stream), and what
            // the run in progress has staged. A run's end applies the staged rows and stores
            // the tokens in one transaction; the staged upserts of a full sync are also the
            // marks of its mark and sweep.
            try db.execute(
                sql: """
                    CREATE TABLE ferry_delta_tokens (
                        target TEXT NOT NULL,
                        stream TEXT NOT NULL,
                        updated_token TEXT NOT NULL,
                        deleted_token TEXT NOT NULL,
                        synced_at TEXT NOT NULL,
                        PRIMARY KEY (target, stream)
                    ) WITHOUT ROWID;
                    CREATE TABLE ferry_delta_staged (
                        target TEXT NOT NULL,
                        stream TEXT NOT NULL,
                        id TEXT NOT NULL,
                        deleted INTEGER NOT NULL,
                        etag TEXT,
                        data TEXT,
                        ref TEXT,
                        PRIMARY KEY (target, stream, id)
                    ) WITHOUT ROWID;
                    """
            )
        }
        migrator.registerMigration("ferry-v4") { db in
            // Outbox entries Ferry wrote itself to settle a conflict (a remote-wins restore, a
            // custom merge). Once the server ordered one, it is not settled again: otherwise
            // devices that all let the remote win restore each other's values forever.
            try db.execute(sql: "ALTER TABLE ferry_outbox ADD COLUMN settles INTEGER NOT NULL DEFAULT 0")
            // A device that has the log but fell below its floor bootstraps in place: its
            // rows and cursor stay until the snapshot is whole, the records the snapshot
            // brought are marked, and its end removes the records the snapshot no longer has.
            try db.execute(
                sql: """
                    ALTER TABLE ferry_bootstrap ADD COLUMN in_place INTEGER NOT NULL DEFAULT 0;
                    CREATE TABLE ferry_bootstrap_keys (
                        entity TEXT NOT NULL,
                        entity_key TEXT NOT NULL,
                        PRIMARY KEY (entity, entity_key)
                    ) WITHOUT ROWID;
                    """
            )
        }
        migrator.registerMigration("ferry-v5-renames") { db in
            // Columns renamed while older versions of the app still sync: new name → old name.
            try db.execute(sql: "ALTER TABLE ferry_tables ADD COLUMN renames TEXT NOT NULL DEFAULT '{}'")
        }
        migrator.registerMigration("ferry-v6-status") { db in
            // For `ferry status` and `ferry doctor`: the head of each space's log at the last
            // pull, and the outcome of the last sync of each space.
            try db.execute(
                sql: """
                    ALTER TABLE ferry_cursor ADD COLUMN head_seq INTEGER;
                    CREATE TABLE ferry_sync_outcome (
                        space TEXT PRIMARY KEY,
                        phase TEXT NOT NULL,
                        reason TEXT,
                        message TEXT,
                        at TEXT NOT NULL,
                        last_success_at TEXT
                    );
                    """
            )
        }
        return migrator
    }

    /// `text` as an SQL string literal.
    static func sqlString(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// `json_object('a', p"a", 'b', p"b", …)` over `table`'s captured members (a renamed
    /// column under both names), a blob as ``capturedValueSQL(_:)`` marks it.
    static func jsonObjectSQL(_ table: SyncedTable, prefix: String) -> String {
        let members = table.capturedMembers.map {
            "\(sqlString($0.member)), \(capturedValueSQL(prefix + $0.column.quotedDatabaseIdentifier))"
        }
        return "json_object(\(members.joined(separator: ", ")))"
    }

    /// The member under which a capture trigger writes a blob's bytes as hex: SQLite's JSON
    /// functions refuse blobs and have no base64. ``RecordCodec/decodeCaptured(_:)`` turns it
    /// into the wire form ``RecordCodec/bytesMember`` (`{"$base64": …}`) when the outbox is read.
    static let capturedHexMember = "$ferry_hex"

    /// An SQL value as a JSON function takes it: a blob as `{"$ferry_hex": "…"}`, anything
    /// else as itself. Plain SQL, so that the triggers work in any process that writes.
    static func capturedValueSQL(_ expression: String) -> String {
        "CASE WHEN typeof(\(expression)) = 'blob' THEN json_object(\(sqlString(capturedHexMember)), hex(\(expression))) ELSE \(expression) END"
    }

    /// An SQL value as JSON text (``capturedValueSQL(_:)`` for one that passes through a
    /// subquery, where SQLite forgets that a text is JSON).
    static func capturedJSONTextSQL(_ expression: String) -> String {
        "CASE WHEN typeof(\(expression)) = 'blob' THEN json_object(\(sqlString(capturedHexMember)), hex(\(expression))) ELSE json_quote(\(expression)) END"
    }

    /// The capture triggers of `table`: they write the outbox in the same transaction as the
    /// change, unless the store itself is applying server changes (`ferry_guard.applying`).
    static func triggerSQL(for table: SyncedTable) -> [String] {
        let name = table.name
        let quoted = name.quotedDatabaseIdentifier
        let key = table.keyColumn.quotedDatabaseIdentifier
        let entity = sqlString(name)
        let guardClause = "(SELECT applying FROM ferry_guard WHERE id = 1) = 0"
        let session = "(SELECT value FROM ferry_meta WHERE key = 'session_id')"
        let now = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
        func baseSeq(_ row: String) -> String {
            "coalesce((SELECT seq FROM ferry_shadow WHERE entity = \(entity) AND entity_key = CAST(\(row).\(key) AS TEXT)), 0)"
        }
        func insert(op: String, row: String, payload: String) -> String {
            """
            INSERT INTO ferry_outbox (session_id, entity, entity_key, op, payload, base_seq, created_at)
            VALUES (\(session), \(entity), CAST(\(row).\(key) AS TEXT), '\(op)', \(payload), \(baseSeq(row)), \(now));
            """
        }
        // An insert of a record the server has (a row deleted and inserted again by
        // `INSERT OR REPLACE`, a key changed back) keeps the shadow's fields of columns this
        // device does not have, which a newer version of the app wrote: an upsert replaces
        // the whole record, and they would be lost.
        func upsertPayload(_ row: String) -> String {
            let plain = jsonObjectSQL(table, prefix: "\(row).")
            let members = table.capturedMembers
            // A JSON path cannot name a member with a double quote.
            guard !members.contains(where: { $0.member.contains("\"") }) else { return plain }
            let shadow = "(SELECT row FROM ferry_shadow WHERE entity = \(entity) AND entity_key = CAST(\(row).\(key) AS TEXT))"
            let paths = members.map { sqlString("$.\"\($0.member)\"") }
            let values = zip(paths, members).map { "\($0), \(capturedValueSQL("\(row).\($1.column.quotedDatabaseIdentifier)"))" }
            let carried = "json_set(json_remove(\(shadow), \(paths.joined(separator: ", "))), \(values.joined(separator: ", ")))"
            let deleted =
                "EXISTS (SELECT 1 FROM ferry_outbox WHERE entity = \(entity) AND entity_key = CAST(\(row).\(key) AS TEXT) AND op = 'delete')"
            return "CASE WHEN \(shadow) IS NOT NULL AND NOT \(deleted) THEN \(carried) ELSE \(plain) END"
        }
        let changed = table.columns.map { "NEW.\($0.quotedDatabaseIdentifier) IS NOT OLD.\($0.quotedDatabaseIdentifier)" }
        let changedMembers = table.capturedMembers.map { member, column in
            let c = column.quotedDatabaseIdentifier
            return "SELECT \(sqlString(member)) AS name, \(capturedJSONTextSQL("NEW.\(c)")) AS value WHERE NEW.\(c) IS NOT OLD.\(c)"
        }
        let patch = "(SELECT json_group_object(name, json(value)) FROM (\(changedMembers.joined(separator: " UNION ALL "))))"
        let prefix = "ferry_\(name)"
        return [
            "DROP TRIGGER IF EXISTS \("\(prefix)_insert".quotedDatabaseIdentifier)",
            "DROP TRIGGER IF EXISTS \("\(prefix)_update".quotedDatabaseIdentifier)",
            "DROP TRIGGER IF EXISTS \("\(prefix)_rekey".quotedDatabaseIdentifier)",
            "DROP TRIGGER IF EXISTS \("\(prefix)_delete".quotedDatabaseIdentifier)",
            """
            CREATE TRIGGER \("\(prefix)_insert".quotedDatabaseIdentifier) AFTER INSERT ON \(quoted)
            WHEN \(guardClause) BEGIN
            \(insert(op: "upsert", row: "NEW", payload: upsertPayload("NEW")))
            END
            """,
            """
            CREATE TRIGGER \("\(prefix)_update".quotedDatabaseIdentifier) AFTER UPDATE ON \(quoted)
            WHEN \(guardClause) AND NEW.\(key) IS OLD.\(key) AND (\(changed.joined(separator: " OR "))) BEGIN
            \(insert(op: "patch", row: "NEW", payload: patch))
            END
            """,
            """
            CREATE TRIGGER \("\(prefix)_rekey".quotedDatabaseIdentifier) AFTER UPDATE ON \(quoted)
            WHEN \(guardClause) AND NEW.\(key) IS NOT OLD.\(key) BEGIN
            \(insert(op: "delete", row: "OLD", payload: "NULL"))
            \(insert(op: "upsert", row: "NEW", payload: upsertPayload("NEW")))
            END
            """,
            """
            CREATE TRIGGER \("\(prefix)_delete".quotedDatabaseIdentifier) AFTER DELETE ON \(quoted)
            WHEN \(guardClause) BEGIN
            \(insert(op: "delete", row: "OLD", payload: "NULL"))
            END
            """,
        ]
    }
}
