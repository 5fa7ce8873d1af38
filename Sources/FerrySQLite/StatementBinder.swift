import GRDB
import GRDBSQLite

/// Binds values straight to a GRDB statement's SQLite handle, for the hot write paths (the
/// server's multi-row appends, the client's apply): building GRDB's `StatementArguments`
/// costs more there (an existential and a conversion per value) than SQLite's own work.
///
/// Create it on a statement (which clears the statement's bindings), bind every parameter in
/// order, then run `statement.execute()` without arguments. Text and blobs are copied by
/// SQLite (`SQLITE_TRANSIENT`).
package struct StatementBinder {
    private let statement: Statement
    private var index: Int32 = 1

    package init(_ statement: Statement) {
        // After a failed run, the first reset answers that run's error (and resets); GRDB's
        // `setUncheckedArguments` would trap on it, so the statement is reset here first.
        // The error was already thrown by the run that failed.
        sqlite3_reset(statement.sqliteStatement)
        statement.setUncheckedArguments(StatementArguments())
        self.statement = statement
    }

    package mutating func bind(_ value: Int64) throws {
        try check(sqlite3_bind_int64(statement.sqliteStatement, index, value))
    }

    package mutating func bind(_ value: Int64?) throws {
        guard let value else { return try bindNull() }
        try bind(value)
    }

    package mutating func bind(_ value: String) throws {
        var value = value
        try value.withUTF8 { text in
            try check(sqlite3_bind_text(statement.sqliteStatement, index, text.baseAddress, Int32(text.count), transient))
        }
    }

    package mutating func bind(_ value: String?) throws {
        guard let value else { return try bindNull() }
        try bind(value)
    }

    /// Binds UTF-8 bytes as text.
    package mutating func bind(text value: [UInt8]) throws {
        try value.withUnsafeBytes { bytes in
            // A non-null pointer even for empty text, so that SQLite stores '', not NULL.
            let pointer = (bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!).assumingMemoryBound(to: CChar.self)
            try check(sqlite3_bind_text(statement.sqliteStatement, index, pointer, Int32(bytes.count), transient))
        }
    }

    package mutating func bind(blob value: [UInt8]?) throws {
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

    package mutating func bind(_ value: Double) throws {
        try check(sqlite3_bind_double(statement.sqliteStatement, index, value))
    }

    package mutating func bindNull() throws {
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
