import Foundation
import GRDB

/// A note, as the app's own `notes` table holds it.
///
/// Ferry needs nothing of this type: it syncs the table through SQLite triggers, whatever
/// writes it (this record, raw SQL, another process). The app keeps its GRDB models as they are.
public struct Note: Codable, Hashable, Sendable, Identifiable, FetchableRecord, PersistableRecord {
    /// The table's name.
    public static let databaseTableName = "notes"

    /// The note's key, the same on every device: made on the device that creates the note.
    public var id: String
    /// The title.
    public var title: String
    /// The text.
    public var body: String
    /// Whether the note is shown first.
    public var pinned: Bool

    /// Creates a note; a new one gets a fresh random `id`.
    public init(id: String = UUID().uuidString.lowercased(), title: String, body: String = "", pinned: Bool = false) {
        self.id = id
        self.title = title
        self.body = body
        self.pinned = pinned
    }
}
