import FerryCore
import FerrySQLite
import GRDB

/// The writes that applying one page makes for every mutation, several rows to a statement:
/// the shadow's upserts, and the app rows' upserts, by table and by the columns a record has.
/// Parameters are bound straight to SQLite. Made once per page, inside its transaction.
///
/// Writes wait in a buffer until ``flush()``; whoever reads the shadow or the app's rows
/// flushes first, so every read sees every write before it, in order. An app row the
/// database refuses (a constraint, a trigger's `RAISE(ABORT)`) is not an error: ``flush()``
/// returns it, with the mutation that wrote it, for the dead letters.
final class PageWriter {
    /// An app row the database refused, and why.
    struct RefusedRow {
        /// The mutation that wrote the row.
        var mutation: LoggedMutation
        /// The database's refusal.
        var error: DatabaseError
    }

    /// Rows per multi-row statement.
    private static let rowsPerStatement = 100

    private let db: Database
    private var shadows: [(entity: String, key: String, text: [UInt8]?, seq: Int64)] = []
    /// App rows waiting, all of one table and one shape (the columns present).
    private var rows: [(key: String, record: RecordFields, mutation: LoggedMutation)] = []
    private var rowsTable: SyncedTable?
    private var rowsPresent: [Bool] = []
    /// App rows the database refused since the last flush.
    private var refused: [RefusedRow] = []

    /// Creates the writer of one page, in `db`'s current transaction.
    init(_ db: Database) {
        self.db = db
        shadows.reserveCapacity(Self.rowsPerStatement)
        rows.reserveCapacity(Self.rowsPerStatement)
    }

    /// Adds the server's version of a record (`nil` once it is deleted) to the shadow's writes.
    func bufferShadow(entity: String, key: String, record: RecordFields?, seq: Int64) throws {
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
    func bufferRow(_ table: SyncedTable, key: String, record: RecordFields, for mutation: LoggedMutation) throws {
        let record = table.visible(record)
        let present = LocalStore.presentColumns(of: table, in: record)
        if let current = rowsTable, current != table || rowsPresent != present { try writeRows() }
        rows.append((key, record, mutation))
        rowsTable = table
        rowsPresent = present
        if rows.count >= Self.rowsPerStatement { try writeRows() }
    }

    /// Writes everything that waits.
    /// - Returns: The app rows the database refused since the last flush (their statements'
    ///   changes undone), in order.
    /// - Throws: Database errors other than a refused row (busy, I/O).
    func flush() throws -> [RefusedRow] {
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
        let present = rowsPresent
        guard try refusal(upserting: waiting.lazy.map { ($0.key, $0.record) }, of: table, present: present) != nil else { return }
        for row in waiting {
            if let error = try refusal(upserting: CollectionOfOne((row.key, row.record)), of: table, present: present) {
                refused.append(RefusedRow(mutation: row.mutation, error: error))
            }
        }
    }

    /// Upserts `rows` in one statement.
    /// - Returns: The database's refusal, after which nothing of the statement is written;
    ///   `nil` when every row is written.
    /// - Throws: Database errors other than a refusal.
    private func refusal(
        upserting rows: some Collection<(key: String, record: RecordFields)>,
        of table: SyncedTable,
        present: [Bool]
    ) throws -> DatabaseError? {
        do {
            try LocalStore.upsertRows(rows, of: table, present: present, db)
            return nil
        } catch let error as DatabaseError where Self.isRefusal(error) {
            return error
        }
    }

    /// Errors that mean "this database will not take this row", as opposed to "try again".
    static func isRefusal(_ error: DatabaseError) -> Bool {
        [.SQLITE_CONSTRAINT, .SQLITE_MISMATCH, .SQLITE_TOOBIG, .SQLITE_RANGE, .SQLITE_ERROR].contains(error.resultCode)
    }
}
