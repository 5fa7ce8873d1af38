import FerryCore
import FerrySQLite
import GRDB

extension LocalStore {
    /// Writes the app's row of `key`: the shadow with the pending local mutations replayed.
    func rebuildVisibleRow(_ table: SyncedTable, key: String, appliedSeq: Int64, _ db: Database) throws {
        var record = try RecordCodec.decode(
            try String.fetchOne(
                db.cachedStatement(sql: "SELECT row FROM ferry_shadow WHERE entity = ? AND entity_key = ?"),
                arguments: [table.name, key]
            )
        )
        for entry in try pendingEntries(table.name, key, after: appliedSeq, db) {
            record = RecordMerge.apply(entry.op, payload: entry.payload, to: record)
        }
        try Self.writeRow(table, key: key, record: record, db)
    }

    /// Writes `record` as the app's row of `key` (deletes the row when `nil`). Capture
    /// triggers see it unless the apply guard is on.
    static func writeRow(_ table: SyncedTable, key: String, record: RecordFields?, _ db: Database) throws {
        guard let record else {
            let sql = "DELETE FROM \(table.name.quotedDatabaseIdentifier) WHERE \(table.keyColumn.quotedDatabaseIdentifier) = ?"
            try db.cachedStatement(sql: sql).execute(arguments: [key])
            return
        }
        let visible = table.visible(record)
        try upsertRows(CollectionOfOne((key, visible)), of: table, present: presentColumns(of: table, in: visible), db)
    }

    /// Which of `table`'s columns `record` has (the key column always): columns a record lacks
    /// are left out of the insert, so that SQLite gives them their default (or NULL), and the
    /// update copies that same value: a record replaces the whole row.
    static func presentColumns(of table: SyncedTable, in record: RecordFields) -> [Bool] {
        table.columns.map { $0 == table.keyColumn || record[$0] != nil }
    }

    /// Upserts the app's rows `rows` of `table`, which all have the columns marked `present`,
    /// in one statement, in order (a key given twice ends with its last record). Values are
    /// bound as ``StatementBinder/bind(json:)`` converts them; a key column the record lacks
    /// takes the row's key.
    static func upsertRows(
        _ rows: some Collection<(key: String, record: RecordFields)>,
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
    func visibleRow(_ table: SyncedTable, key: String, _ db: Database) throws -> RecordFields? {
        guard
            let row = try Row.fetchOne(
                db,
                sql: "SELECT * FROM \(table.name.quotedDatabaseIdentifier) WHERE \(table.keyColumn.quotedDatabaseIdentifier) = ?",
                arguments: [key]
            )
        else { return nil }
        var record: RecordFields = [:]
        for (column, value) in row { record[column] = RecordCodec.jsonValue(value) }
        return record
    }
}
