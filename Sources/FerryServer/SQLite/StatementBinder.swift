import GRDB
import GRDBSQLite

/// Binds values straight to a GRDB statement's SQLite handle, for the multi-row statements of
/// the hot write path: building GRDB's `StatementArguments` costs more there (an existential
/// and a conversion per value) than SQLite's own work.
///
/// Create it on a statement (which clears the statement's bindings), bind every parameter in
/// order, then run `statement.execute()` without arguments. Text and blobs are copied by
/// SQLite (`SQLITE_TRANSIENT`).
struct StatementBinder {
    private let statement: Statement
    private var index: Int32 = 1

    init(_ statement: Statement) {
        statement.setUncheckedArguments(StatementArguments())
        self.statement = statement
    }

    /// The number of parameters bound so far.
    var count: Int { Int(index - 1) }

    mutating func bind(_ value: Int64) throws {
        try check(sqlite3_bind_int64(statement.sqliteStatement, index, value))
    }

    mutating func bind(_ value: Int64?) throws {
        guard let value else { return try bindNull() }
        try bind(value)
    }

    mutating func bind(_ value: String) throws {
        var value = value
        try value.withUTF8 { text in
            try check(sqlite3_bind_text(statement.sqliteStatement, index, text.baseAddress, Int32(text.count), transient))
        }
    }

    mutating func bind(_ value: String?) throws {
        guard let value else { return try bindNull() }
        try bind(value)
    }

    mutating func bind(blob value: [UInt8]?) throws {
        guard let value else { return try bindNull() }
        try value.withUnsafeBytes { bytes in
            // A non-null pointer even for an empty blob, so that SQLite stores a blob, not NULL.
            try check(
                sqlite3_bind_blob(
                    statement.sqliteStatement,
                    index,
                    bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1),
                    Int32(bytes.count),
                    transient
                )
            )
        }
    }

    mutating func bindNull() throws {
        try check(sqlite3_bind_null(statement.sqliteStatement, index))
    }

    private mutating func check(_ code: Int32) throws {
        guard code == SQLITE_OK else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "binding parameter \(index) failed", sql: statement.sql)
        }
        index += 1
    }

    /// Tells SQLite to copy the bound bytes.
    private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}
