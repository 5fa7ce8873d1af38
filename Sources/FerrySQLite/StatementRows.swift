import GRDB
import GRDBSQLite

/// Steps through the rows of a GRDB statement and reads their columns straight from SQLite,
/// for the hot read path (a pull page): going through GRDB's `Row` costs several times more
/// per value than SQLite's own work there.
///
/// Create it on a statement with its arguments, call ``next()`` until it answers `false`,
/// and read the current row's columns in between. Texts are read as UTF-8 (as they were
/// written); a column is read by its index in the statement's result.
package struct StatementRows {
    private let statement: Statement
    private var handle: OpaquePointer { statement.sqliteStatement }

    package init(_ statement: Statement, arguments: StatementArguments) throws {
        // A run that failed leaves its error for the next reset; it was thrown then.
        sqlite3_reset(statement.sqliteStatement)
        try statement.setArguments(arguments)
        self.statement = statement
    }

    /// Moves to the next row; `false` when there is none (the statement is then reset).
    package mutating func next() throws -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW:
            return true
        case SQLITE_DONE:
            sqlite3_reset(handle)
            return false
        case let code:
            let message = String(cString: sqlite3_errmsg(sqlite3_db_handle(handle)))
            sqlite3_reset(handle)
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
        }
    }

    package func isNull(_ column: Int32) -> Bool {
        sqlite3_column_type(handle, column) == SQLITE_NULL
    }

    package func int64(_ column: Int32) -> Int64 {
        sqlite3_column_int64(handle, column)
    }

    package func optionalInt64(_ column: Int32) -> Int64? {
        isNull(column) ? nil : int64(column)
    }

    package func string(_ column: Int32) -> String {
        guard let text = sqlite3_column_text(handle, column) else { return "" }
        return String(decoding: UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(handle, column))), as: UTF8.self)
    }

    package func optionalString(_ column: Int32) -> String? {
        isNull(column) ? nil : string(column)
    }

    /// A blob's (or a text's) bytes, or `nil` for `NULL`.
    package func bytes(_ column: Int32) -> [UInt8]? {
        if isNull(column) { return nil }
        guard let blob = sqlite3_column_blob(handle, column) else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: blob, count: Int(sqlite3_column_bytes(handle, column))))
    }
}
