import FerryClient
import FerryCore
import GRDB

/// The notes app's data layer: its SQLite database, its migrations, and Ferry's store on it.
///
/// ```swift
/// let notes = try NotesDatabase(try DatabasePool(path: "notes.sqlite"))
/// try notes.add(title: "Groceries", body: "milk")
/// ```
///
/// The app reads and writes with GRDB as it always does; every write is captured by Ferry's
/// triggers and reaches the other devices through a ``NotesSync``.
public final class NotesDatabase: Sendable {
    /// The app's database.
    public let writer: any DatabaseWriter
    /// Ferry's store on the same database: outbox, cursor, conflicts.
    public let store: LocalStore

    /// Opens the data layer: runs the app's migrations, then opens Ferry's store and makes
    /// the `notes` table sync with ``merge(_:)`` for its conflicts.
    /// - Parameter writer: A `DatabasePool` on the app's file, or a `DatabaseQueue()` in memory
    ///   for tests.
    public init(_ writer: any DatabaseWriter) throws {
        self.writer = writer
        try Self.migrator.migrate(writer)
        store = try LocalStore(writer)
        try store.register(table: Note.databaseTableName, policy: .custom(Self.merge))
    }

    /// The app's own migrations. A later one that drops or renames a column of `notes` runs
    /// inside `LocalStore.changeSchema(db) { … }` (docs/client.md, "Schema changes").
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 notes") { db in
            try db.create(table: Note.databaseTableName) { table in
                table.primaryKey("id", .text)
                table.column("title", .text).notNull().defaults(to: "")
                table.column("body", .text).notNull().defaults(to: "")
                table.column("pinned", .boolean).notNull().defaults(to: false)
            }
        }
        return migrator
    }

    // MARK: What the app does

    /// Adds a note.
    @discardableResult
    public func add(title: String, body: String = "") throws -> Note {
        let note = Note(title: title, body: body)
        try writer.write { db in try note.insert(db) }
        return note
    }

    /// Saves a changed note. Only the changed columns travel: Ferry's trigger sends a patch.
    public func save(_ note: Note) throws {
        try writer.write { db in try note.update(db) }
    }

    /// Deletes a note.
    public func delete(id: String) throws {
        _ = try writer.write { db in try Note.deleteOne(db, key: id) }
    }

    /// A note by its key.
    public func note(id: String) throws -> Note? {
        try writer.read { db in try Note.fetchOne(db, key: id) }
    }

    /// Every note, pinned ones first, then by title.
    public func notes() throws -> [Note] {
        try writer.read { db in
            try Note.order(Column("pinned").desc, Column("title"), Column("id")).fetchAll(db)
        }
    }

    // MARK: Conflicts

    /// How two devices' concurrent edits of one note become one: Ferry calls this on the
    /// device whose edit the server ordered second, for the fields both devices changed, and
    /// pushes what it returns as a new change, so every device ends with it.
    ///
    /// - title: the later edit wins (the local one: it is ordered after the remote one);
    /// - body: neither text is lost: the remote text, a blank line, then the local one;
    /// - pinned: pinned if either device pinned it;
    /// - an edit against a deletion: the edited note comes back.
    ///
    /// Every conflict is also recorded (``LocalStore/conflicts(unacknowledgedOnly:)``), whatever
    /// this answers, for the app to show.
    @Sendable public static func merge(_ conflict: ConflictContext) -> [String: JSONValue]? {
        guard let local = conflict.local else { return conflict.remote }
        guard let remote = conflict.remote else { return local }
        var merged = remote
        for field in conflict.fields {
            switch (field, local[field], remote[field]) {
            case ("body", .string(let mine)?, .string(let theirs)?):
                merged[field] = .string(Self.joined(theirs, mine))
            case ("pinned", let mine, let theirs):
                merged[field] = .int(Self.isSet(mine) || Self.isSet(theirs) ? 1 : 0)
            default:
                merged[field] = local[field] ?? remote[field]
            }
        }
        return merged
    }

    /// Whether a synced boolean column holds true (SQLite stores it as 0 or 1).
    static func isSet(_ value: JSONValue?) -> Bool {
        switch value {
        case .int(let number)?: number != 0
        case .bool(let flag)?: flag
        default: false
        }
    }

    /// Two texts as one, without repeating one that already holds the other.
    static func joined(_ first: String, _ second: String) -> String {
        if first.contains(second) { return first }
        if second.contains(first) { return second }
        return first + "\n\n" + second
    }
}
