/// An error of the local store: an open code, a message for people, and the cause.
///
/// These errors are about this device's database (a table that cannot sync, a page for
/// another log, stored data that no longer reads); they are never sent to a server. Codes
/// are an open set so that later versions can add some without breaking `switch`
/// statements of users.
public struct LocalStoreError: Error, Sendable, CustomStringConvertible {
    /// What kind of error a local store error is.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code's name.
        public var rawValue: String

        /// Creates a code from its name.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The database has no such table, or the table is not registered.
        public static let unknownTable = Code(rawValue: "unknown_table")
        /// The table cannot sync: its name is not a valid entity name, or it has no usable
        /// key column (a single-column primary key, or a unique column).
        public static let unsyncableTable = Code(rawValue: "unsyncable_table")
        /// No recorded conflict has that id.
        public static let unknownConflict = Code(rawValue: "unknown_conflict")
        /// A pulled page belongs to another log than the cursor's: reset the space first.
        public static let logChanged = Code(rawValue: "log_changed")
        /// Data Ferry stored in the database does not read back (a record that is not a JSON
        /// object, a table's column list that is not an array of names).
        public static let corruptData = Code(rawValue: "corrupt_data")
        /// The metadata key is Ferry's own and cannot be written.
        public static let reservedKey = Code(rawValue: "reserved_key")
        /// There is no database file where one was to be opened.
        public static let noDatabase = Code(rawValue: "no_database")
        /// A snapshot chunk or the end of a bootstrap does not match the bootstrap in
        /// progress (another snapshot, or none started): start the bootstrap again.
        public static let bootstrapMismatch = Code(rawValue: "bootstrap_mismatch")
        /// A record to import lacks its key, or its key is not a string or an integer.
        public static let invalidRecord = Code(rawValue: "invalid_record")

        public var description: String { rawValue }
    }

    /// What kind of error this is.
    public var code: Code
    /// A sentence for the person reading the error.
    public var message: String
    /// The error that caused this one, if any.
    public var underlying: (any Error)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        if let underlying {
            return "\(code.rawValue): \(message) (\(underlying))"
        }
        return "\(code.rawValue): \(message)"
    }
}
