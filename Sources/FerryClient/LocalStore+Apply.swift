import FerryCore
import FerrySQLite
import Foundation
import GRDB

extension LocalStore {
    /// Where this device is in a space's log.
    public struct Cursor: Sendable, Hashable {
        /// The last seq applied; the next pull asks for what follows.
        public var lastSeq: Int64
        /// The id of the log the cursor belongs to; `nil` before the first pull.
        public var logID: String?
    }

    /// What applying a page did.
    public struct ApplyReport: Sendable, Hashable {
        /// Mutations applied (own echoes included).
        public var applied = 0
        /// Conflicts recorded.
        public var conflicts = 0
        /// Mutations that went to the dead letters.
        public var deadLetters = 0
    }

    /// The cursor of `space`.
    public func cursor(space: String) throws -> Cursor {
        try writer.read { db in try Self.cursor(space: space, db) }
    }

    static func cursor(space: String, _ db: Database) throws -> Cursor {
        let row = try Row.fetchOne(db, sql: "SELECT last_seq, log_id FROM ferry_cursor WHERE space = ?", arguments: [space])
        return Cursor(lastSeq: row?[0] ?? 0, logID: row?[1])
    }

    /// Applies a pulled page in one transaction: the shadow and the app's rows change, own
    /// echoes confirm outbox entries, conflicts are recorded and settled by each table's
    /// policy, mutations the database refuses go to the dead letters, and the cursor moves to
    /// the page's `latest_seq`. Mutations at or below the cursor are skipped, so a page
    /// applied twice changes nothing the second time.
    /// - Throws: ``FerryError`` `conflict` when the page's `log_id` differs from the cursor's
    ///   (the caller resets the space first); database errors other than a refused row
    ///   (busy, I/O), after which nothing of the page was applied.
    @discardableResult
    public func apply(_ page: PullResponse, space: String) throws -> ApplyReport {
        try writer.write { db in try self.apply(page, space: space, db) }
    }

    /// Async variant of ``apply(_:space:)``.
    @discardableResult
    public func applyAsync(_ page: PullResponse, space: String) async throws -> ApplyReport {
        try await writer.write { db in try self.apply(page, space: space, db) }
    }

    /// Forgets this device's copy of `space` so that it can pull from the start: removes the
    /// rows that came from the server, clears the shadow, puts acknowledged local mutations
    /// back in the outbox (the new log may not have them) and sets the cursor to 0. Pending
    /// local changes are kept and shown.
    public func reset(space: String, logID: String?) throws {
        try writer.write { db in
            try self.withApplyGuard(db) {
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
                try db.execute(sql: "UPDATE ferry_outbox SET state = 'pending', server_seq = NULL WHERE state = 'acked'")
                try db.execute(
                    sql: """
                        INSERT INTO ferry_cursor (space, last_seq, log_id) VALUES (?, 0, ?)
                        ON CONFLICT (space) DO UPDATE SET last_seq = 0, log_id = excluded.log_id
                        """,
                    arguments: [space, logID]
                )
                let byName = Dictionary(uniqueKeysWithValues: tables.map { ($0.name, $0) })
                for row in try Row.fetchAll(db, sql: "SELECT DISTINCT entity, entity_key FROM ferry_outbox WHERE state = 'pending'") {
                    guard let table = byName[row[0]] else { continue }
                    try self.rebuildVisibleRow(table, key: row[1], appliedSeq: 0, db)
                }
            }
        }
        logger.notice("reset the local copy of the space", metadata: ["space": "\(space)"])
    }

    private struct PendingEntry {
        var clientActionID: Int64
        var op: MutationOp
        var payload: RecordMath.Record?
        var acked: Bool

        /// The fields it changes; `nil` for all of them.
        var fields: Set<String>? { op == .patch ? Set((payload ?? [:]).keys) : nil }
    }

    private func apply(_ page: PullResponse, space: String, _ db: Database) throws -> ApplyReport {
        let cursor = try Self.cursor(space: space, db)
        if let stored = cursor.logID, stored != page.logID {
            throw FerryError(.conflict, "the server's log_id changed from \(stored) to \(page.logID): reset first")
        }
        var report = ApplyReport()
        let tables = Dictionary(uniqueKeysWithValues: try Self.syncedTables(db).map { ($0.name, $0) })
        let storedPolicies = Dictionary(
            uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT name, policy FROM ferry_tables").map {
                ($0[0] as String, $0[1] as String)
            }
        )
        var pendingKeys = Set<String>()
        for row in try Row.fetchAll(db, sql: "SELECT DISTINCT entity, entity_key FROM ferry_outbox WHERE state IN ('pending', 'acked')") {
            pendingKeys.insert(Self.recordID(row[0], row[1]))
        }
        let statements = try ApplyStatements(db)
        try withApplyGuard(db) {
            for mutation in page.mutations where mutation.seq > cursor.lastSeq {
                try self.applyOne(
                    mutation,
                    space: space,
                    table: tables[mutation.entity],
                    policy: self.policy(for: mutation.entity, stored: storedPolicies[mutation.entity] ?? ""),
                    hasPending: !pendingKeys.isEmpty && pendingKeys.contains(Self.recordID(mutation.entity, mutation.entityKey)),
                    statements: statements,
                    report: &report,
                    db
                )
            }
            try self.flush(statements, space: space, report: &report, db)
            let latest = max(cursor.lastSeq, page.latestSeq)
            try db.execute(
                sql: """
                    INSERT INTO ferry_cursor (space, last_seq, log_id, pulled_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (space) DO UPDATE SET last_seq = excluded.last_seq, log_id = excluded.log_id,
                        pulled_at = excluded.pulled_at
                    """,
                arguments: [space, latest, page.logID, RFC3339.format(millisecondsSince1970: clock.nowMilliseconds())]
            )
            // Confirmed local mutations the cursor has passed are part of the shadow now.
            try db.execute(sql: "DELETE FROM ferry_outbox WHERE state = 'acked' AND server_seq <= ?", arguments: [latest])
        }
        return report
    }

    private static func recordID(_ entity: String, _ key: String) -> String { "\(entity)\u{0}\(key)" }

    private func applyOne(
        _ mutation: LoggedMutation,
        space: String,
        table: SyncedTable?,
        policy: ConflictPolicy,
        hasPending: Bool,
        statements: ApplyStatements,
        report: inout ApplyReport,
        _ db: Database
    ) throws {
        let payload = mutation.payload?.objectValue
        guard mutation.op.isKnown, mutation.op == .delete || payload != nil else {
            try flush(statements, space: space, report: &report, db)  // earlier dead letters first
            try deadLetter(
                mutation,
                space: space,
                error: "malformed mutation: op \(mutation.op) with payload \(String(describing: mutation.payload))",
                db
            )
            report.deadLetters += 1
            return
        }
        // The shadow's version before this mutation matters to a patch, and to the conflict
        // check of another device's change to a record with local changes pending.
        let isEcho = mutation.deviceID == deviceID
        let needsBefore = mutation.op == .patch || (hasPending && !isEcho)
        if needsBefore || hasPending {
            // What follows reads the shadow or the app's rows: write out what waits first.
            try flush(statements, space: space, report: &report, db)
        }
        let before =
            needsBefore
            ? RecordMath.decode(
                try String.fetchOne(
                    db.cachedStatement(sql: "SELECT row FROM ferry_shadow WHERE entity = ? AND entity_key = ?"),
                    arguments: [mutation.entity, mutation.entityKey]
                )
            ) : nil
        let after = RecordMath.apply(mutation.op, payload: payload, to: before)
        try statements.bufferShadow(entity: mutation.entity, key: mutation.entityKey, record: after, seq: mutation.seq)
        report.applied += 1

        if isEcho {
            // Our own mutation came back: the log itself confirms the outbox entry, even when
            // the push's answer was lost.
            try db.cachedStatement(
                sql:
                    "UPDATE ferry_outbox SET state = 'acked', server_seq = ? WHERE client_action_id = ? AND session_id = ? AND state <> 'rejected'"
            ).execute(arguments: [mutation.seq, mutation.clientActionID, mutation.sessionID])
        } else if hasPending, let table {
            let pending = try pendingEntries(table.name, mutation.entityKey, after: mutation.seq, db)
            let remoteFields = RecordMath.changedFields(before, after)
            let conflicting = pending.filter { entry in
                guard let fields = entry.fields else { return !remoteFields.isEmpty }
                return !fields.isDisjoint(with: remoteFields)
            }
            if !conflicting.isEmpty {
                try settleConflict(
                    mutation,
                    table: table,
                    policy: policy,
                    remote: after,
                    remoteFields: remoteFields,
                    conflicting: conflicting,
                    db
                )
                report.conflicts += 1
            }
        }

        guard let table else { return }  // Kept in the shadow; written when the table is registered.
        // App rows are written by statements SQLite makes atomic: when the database refuses
        // one (a constraint, a trigger's RAISE(ABORT)), its changes are undone and the page's
        // transaction goes on, so no savepoint is needed per row.
        if !hasPending, let after {
            // Nothing local waits for this record: the app's row is the shadow's, written with
            // the page's other rows of the same shape, several to a statement.
            try statements.bufferRow(table, key: mutation.entityKey, record: after, for: mutation)
            return
        }
        try flush(statements, space: space, report: &report, db)
        do {
            if hasPending {
                try rebuildVisibleRow(table, key: mutation.entityKey, appliedSeq: mutation.seq, db)
            } else {
                try Self.writeRow(table, key: mutation.entityKey, record: after, db)
            }
        } catch let error as DatabaseError where Self.isRefusal(error) {
            try deadLetter(mutation, space: space, error: error.message ?? error.description, db)
            report.deadLetters += 1
        }
    }

    /// Writes the rows that wait in `statements`; the mutations whose rows the database
    /// refuses go to the dead letters.
    private func flush(_ statements: ApplyStatements, space: String, report: inout ApplyReport, _ db: Database) throws {
        for (mutation, error) in try statements.flush() {
            try deadLetter(mutation, space: space, error: error.message ?? error.description, db)
            report.deadLetters += 1
        }
    }

    /// Errors that mean "this database will not take this row", as opposed to "try again".
    static func isRefusal(_ error: DatabaseError) -> Bool {
        [.SQLITE_CONSTRAINT, .SQLITE_MISMATCH, .SQLITE_TOOBIG, .SQLITE_RANGE, .SQLITE_ERROR].contains(error.resultCode)
    }

    private func deadLetter(_ mutation: LoggedMutation, space: String, error: String, _ db: Database) throws {
        logger.warning(
            "could not apply a remote mutation; it is kept in the dead letters",
            metadata: ["seq": "\(mutation.seq)", "entity": "\(mutation.entity)", "error": "\(error)"]
        )
        try db.execute(
            sql: """
                INSERT INTO ferry_dead_letters (space, seq, entity, entity_key, op, payload, device_id, error, failed_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (space, seq) DO UPDATE SET error = excluded.error, failed_at = excluded.failed_at
                """,
            arguments: [
                space, mutation.seq, mutation.entity, mutation.entityKey, mutation.op.rawValue,
                mutation.payload.map { String(decoding: $0.serialized(), as: UTF8.self) }, mutation.deviceID, error,
                RFC3339.format(millisecondsSince1970: clock.nowMilliseconds()),
            ]
        )
    }

    /// Local mutations of a record not yet in the shadow: unpushed ones, and acknowledged
    /// ones whose seq is above `seq`.
    private func pendingEntries(_ entity: String, _ key: String, after seq: Int64, _ db: Database) throws -> [PendingEntry] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT client_action_id, op, payload, state FROM ferry_outbox
                    WHERE entity = ? AND entity_key = ? AND (state = 'pending' OR (state = 'acked' AND server_seq > ?))
                    ORDER BY client_action_id
                    """
            ),
            arguments: [entity, key, seq]
        ).map { row in
            PendingEntry(
                clientActionID: row[0],
                op: MutationOp(rawValue: row[1]),
                payload: RecordMath.decode(row[2]),
                acked: (row[3] as String) == "acked"
            )
        }
    }

    /// Writes the app's row of `key`: the shadow with the pending local mutations replayed.
    func rebuildVisibleRow(_ table: SyncedTable, key: String, appliedSeq: Int64, _ db: Database) throws {
        var record = RecordMath.decode(
            try String.fetchOne(
                db.cachedStatement(sql: "SELECT row FROM ferry_shadow WHERE entity = ? AND entity_key = ?"),
                arguments: [table.name, key]
            )
        )
        for entry in try pendingEntries(table.name, key, after: appliedSeq, db) {
            record = RecordMath.apply(entry.op, payload: entry.payload, to: record)
        }
        try Self.writeRow(table, key: key, record: record, db)
    }

    /// Writes `record` as the app's row of `key` (deletes the row when `nil`). Capture
    /// triggers see it unless the apply guard is on.
    static func writeRow(_ table: SyncedTable, key: String, record: RecordMath.Record?, _ db: Database) throws {
        guard let record else {
            let sql = "DELETE FROM \(table.name.quotedDatabaseIdentifier) WHERE \(table.keyColumn.quotedDatabaseIdentifier) = ?"
            try db.cachedStatement(sql: sql).execute(arguments: [key])
            return
        }
        try upsertRows([(key, record)], of: table, present: presentColumns(of: table, in: record), db)
    }

    /// Which of `table`'s columns `record` has (the key column always): columns a record lacks
    /// are left out of the insert, so that SQLite gives them their default (or NULL), and the
    /// update copies that same value: a record replaces the whole row.
    static func presentColumns(of table: SyncedTable, in record: RecordMath.Record) -> [Bool] {
        table.columns.map { $0 == table.keyColumn || record[$0] != nil }
    }

    /// Upserts the app's rows `rows` of `table`, which all have the columns marked `present`,
    /// in one statement, in order (a key given twice ends with its last record). Values are
    /// bound as ``StatementBinder/bind(json:)`` converts them; a key column the record lacks
    /// takes the row's key.
    static func upsertRows(
        _ rows: some Collection<(key: String, record: RecordMath.Record)>,
        of table: SyncedTable,
        present: [Bool],
        _ db: Database
    ) throws {
        let columns = zip(table.columns, present).filter(\.1).map { $0.0.quotedDatabaseIdentifier }
        let placeholders = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO \(table.name.quotedDatabaseIdentifier) (\(columns.joined(separator: ", ")))
                VALUES \(Array(repeating: placeholders, count: rows.count).joined(separator: ", "))
                ON CONFLICT (\(table.keyColumn.quotedDatabaseIdentifier)) DO UPDATE SET
                \(table.columns.map { "\($0.quotedDatabaseIdentifier) = excluded.\($0.quotedDatabaseIdentifier)" }.joined(separator: ", "))
                """
        )
        var binder = StatementBinder(statement)
        for row in rows {
            for (column, isPresent) in zip(table.columns, present) where isPresent {
                if let value = row.record[column] {
                    try binder.bind(json: value)
                } else {
                    try binder.bind(row.key)
                }
            }
        }
        try statement.execute()
    }

    /// The app's current row of `key`, as fields.
    func visibleRow(_ table: SyncedTable, key: String, _ db: Database) throws -> RecordMath.Record? {
        guard
            let row = try Row.fetchOne(
                db,
                sql: "SELECT * FROM \(table.name.quotedDatabaseIdentifier) WHERE \(table.keyColumn.quotedDatabaseIdentifier) = ?",
                arguments: [key]
            )
        else { return nil }
        var record: RecordMath.Record = [:]
        for (column, value) in row { record[column] = RecordMath.jsonValue(value) }
        return record
    }

    private func settleConflict(
        _ mutation: LoggedMutation,
        table: SyncedTable,
        policy: ConflictPolicy,
        remote: RecordMath.Record?,
        remoteFields: Set<String>,
        conflicting: [PendingEntry],
        _ db: Database
    ) throws {
        let local = try visibleRow(table, key: mutation.entityKey, db)
        var fields = Set<String>()
        for entry in conflicting { fields.formUnion(entry.fields.map { $0.intersection(remoteFields) } ?? remoteFields) }
        let resolution: ConflictResolution
        switch policy {
        case .lastWriterWins:
            resolution = .localWins
        case .remoteWins:
            for entry in conflicting {
                if entry.acked {
                    // The server already ordered it after the remote change: restore the remote values.
                    if let remote, entry.op == .patch {
                        var restore: RecordMath.Record = [:]
                        for field in fields { restore[field] = remote[field] ?? .null }
                        try enqueue(table.name, mutation.entityKey, .patch, restore, baseSeq: mutation.seq, db)
                    } else {
                        try enqueue(table.name, mutation.entityKey, remote == nil ? .delete : .upsert, remote, baseSeq: mutation.seq, db)
                    }
                } else if entry.op == .patch, remote != nil, var payload = entry.payload {
                    // Keep the fields the remote change did not touch.
                    for field in remoteFields { payload[field] = nil }
                    if payload.isEmpty {
                        try dropOutboxEntry(entry.clientActionID, db)
                    } else {
                        try db.execute(
                            sql: "UPDATE ferry_outbox SET payload = ? WHERE client_action_id = ?",
                            arguments: [RecordMath.encode(payload), entry.clientActionID]
                        )
                    }
                } else {
                    try dropOutboxEntry(entry.clientActionID, db)
                }
            }
            resolution = .remoteWins
        case .custom(let resolver):
            let context = ConflictContext(
                entity: table.name,
                entityKey: mutation.entityKey,
                local: local,
                remote: remote,
                remoteSeq: mutation.seq,
                fields: fields
            )
            let merged = resolver(context)
            for entry in conflicting where !entry.acked { try dropOutboxEntry(entry.clientActionID, db) }
            try enqueue(table.name, mutation.entityKey, merged == nil ? .delete : .upsert, merged, baseSeq: mutation.seq, db)
            resolution = .merged
        }
        try recordConflict(
            entity: table.name,
            key: mutation.entityKey,
            local: local,
            remote: remote,
            baseSeq: nil,
            localSeq: nil,
            remoteSeq: mutation.seq,
            resolution: resolution,
            db
        )
    }

    private func dropOutboxEntry(_ clientActionID: Int64, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM ferry_outbox WHERE client_action_id = ? AND state = 'pending'", arguments: [clientActionID])
    }

    /// Adds a mutation made by Ferry itself (a conflict's resolution) to the outbox.
    func enqueue(_ entity: String, _ key: String, _ op: MutationOp, _ payload: RecordMath.Record?, baseSeq: Int64, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO ferry_outbox (session_id, entity, entity_key, op, payload, base_seq, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                sessionID, entity, key, op.rawValue, op == .delete ? nil : RecordMath.encode(payload), baseSeq,
                RFC3339.format(millisecondsSince1970: clock.nowMilliseconds()),
            ]
        )
    }

    func recordConflict(
        entity: String,
        key: String,
        local: RecordMath.Record?,
        remote: RecordMath.Record?,
        baseSeq: Int64?,
        localSeq: Int64?,
        remoteSeq: Int64,
        resolution: ConflictResolution,
        _ db: Database
    ) throws {
        try db.execute(
            sql: """
                INSERT INTO ferry_conflicts (entity, entity_key, local, remote, base_seq, local_seq, remote_seq, detected_at, resolution)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (entity, entity_key, remote_seq) DO UPDATE SET
                    local = coalesce(excluded.local, local), remote = excluded.remote,
                    base_seq = coalesce(excluded.base_seq, base_seq), local_seq = coalesce(excluded.local_seq, local_seq),
                    resolution = CASE WHEN excluded.resolution = 'reported' THEN resolution ELSE excluded.resolution END
                """,
            arguments: [
                entity, key, RecordMath.encode(local), RecordMath.encode(remote), baseSeq, localSeq, remoteSeq,
                RFC3339.format(millisecondsSince1970: clock.nowMilliseconds()), resolution.rawValue,
            ]
        )
    }
}

/// The writes that applying one page makes for every mutation, several rows to a statement:
/// the shadow's upserts, and the app rows' upserts, by table and by the columns a record has.
/// Parameters are bound straight to SQLite. Made once per page, inside its transaction.
///
/// Writes wait in a buffer until ``flush()``; whoever reads the shadow or the app's rows
/// flushes first, so every read sees every write before it, in order.
final class ApplyStatements {
    /// Rows per multi-row statement.
    private static let rowsPerStatement = 100

    private let db: Database
    private var shadows: [(entity: String, key: String, text: [UInt8]?, seq: Int64)] = []
    /// App rows waiting, all of one table and one shape (the columns present).
    private var rows: [(key: String, record: RecordMath.Record, mutation: LoggedMutation)] = []
    private var rowsTable: SyncedTable?
    private var rowsPresent: [Bool] = []
    /// App rows the database refused since the last flush, with the mutations that wrote them.
    private var refused: [(LoggedMutation, DatabaseError)] = []

    init(_ db: Database) throws {
        self.db = db
        shadows.reserveCapacity(Self.rowsPerStatement)
        rows.reserveCapacity(Self.rowsPerStatement)
    }

    /// Adds the server's version of a record (`nil` once it is deleted) to the shadow's writes.
    func bufferShadow(entity: String, key: String, record: RecordMath.Record?, seq: Int64) throws {
        var text: [UInt8]?
        if let record {
            var writer = JSONWriter(capacity: 256)
            writer.value(.object(record), sortingKeys: false)
            text = writer.bytes
        }
        shadows.append((entity, key, text, seq))
        if shadows.count == Self.rowsPerStatement { try writeShadows() }
    }

    /// Adds `record` as the app's row of `key`, written by `mutation`. The rows waiting are
    /// written first when this one has another table or shape, and with it when they fill a
    /// statement.
    func bufferRow(_ table: SyncedTable, key: String, record: RecordMath.Record, for mutation: LoggedMutation) throws {
        let present = LocalStore.presentColumns(of: table, in: record)
        if let current = rowsTable, current != table || rowsPresent != present { try writeRows() }
        rows.append((key, record, mutation))
        rowsTable = table
        rowsPresent = present
        if rows.count >= Self.rowsPerStatement { try writeRows() }
    }

    /// Writes everything that waits; answers the mutations whose app rows the database
    /// refused since the last flush (their statements' changes undone), for the dead letters.
    func flush() throws -> [(LoggedMutation, DatabaseError)] {
        try writeShadows()
        try writeRows()
        defer { refused.removeAll() }
        return refused
    }

    private func writeShadows() throws {
        guard !shadows.isEmpty else { return }
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO ferry_shadow (entity, entity_key, row, seq) VALUES
                \(Array(repeating: "(?, ?, ?, ?)", count: shadows.count).joined(separator: ", "))
                ON CONFLICT (entity, entity_key) DO UPDATE SET row = excluded.row, seq = excluded.seq
                """
        )
        var binder = StatementBinder(statement)
        for shadow in shadows {
            try binder.bind(shadow.entity)
            try binder.bind(shadow.key)
            if let text = shadow.text { try binder.bind(text: text) } else { try binder.bindNull() }
            try binder.bind(shadow.seq)
        }
        shadows.removeAll(keepingCapacity: true)
        try statement.execute()
    }

    /// Writes the waiting app rows in one statement; when the database refuses it (which
    /// undoes the statement's changes), row by row, to find the rows it refuses.
    private func writeRows() throws {
        guard let table = rowsTable, !rows.isEmpty else { return }
        let waiting = rows
        rows.removeAll(keepingCapacity: true)
        rowsTable = nil
        do {
            return try LocalStore.upsertRows(waiting.lazy.map { ($0.key, $0.record) }, of: table, present: rowsPresent, db)
        } catch let error as DatabaseError where LocalStore.isRefusal(error) {
            // Found below, row by row.
        }
        for row in waiting {
            do {
                try LocalStore.upsertRows(CollectionOfOne((row.key, row.record)), of: table, present: rowsPresent, db)
            } catch let error as DatabaseError where LocalStore.isRefusal(error) {
                refused.append((row.mutation, error))
            }
        }
    }
}

extension StatementBinder {
    /// Binds a JSON value as an app row's column value: booleans as 0 or 1, arrays and
    /// objects as their JSON text, the rest as themselves.
    mutating func bind(json value: JSONValue) throws {
        switch value {
        case .null: try bindNull()
        case .bool(let flag): try bind(Int64(flag ? 1 : 0))
        case .int(let number): try bind(number)
        case .double(let number): try bind(number)
        case .string(let text): try bind(text)
        case .array, .object: try bind(text: value.serialized())
        }
    }
}
