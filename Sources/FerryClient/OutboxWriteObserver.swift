import GRDB
import Synchronization

/// Notices the commits, through the store's own `DatabaseWriter`, of transactions that put
/// entries into the outbox: the app's writes to tracked tables (the capture triggers insert
/// into `ferry_outbox`), a conflict settled by Ferry, a backfill. Changes pulled from the
/// server are written with the triggers off and insert nothing there, and acknowledgements
/// only update or delete outbox entries, so neither calls `onCommit`.
final class OutboxWriteObserver: TransactionObserver, Sendable {
    /// The highest entry id the transaction in progress inserted.
    private let inserted = Mutex<Int64?>(nil)
    private let onCommit: @Sendable (Int64) -> Void

    /// Calls `onCommit` with the highest entry id inserted, after each commit of a
    /// transaction that inserted into the outbox.
    init(onCommit: @escaping @Sendable (_ highestEntry: Int64) -> Void) {
        self.onCommit = onCommit
    }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool {
        if case .insert(let tableName) = eventKind { return tableName == "ferry_outbox" }
        return false
    }

    func databaseDidChange(with event: DatabaseEvent) {
        // The entry id is the row id (`client_action_id INTEGER PRIMARY KEY`).
        let id = event.rowID
        inserted.withLock { highest in highest = max(highest ?? id, id) }
    }

    func databaseDidCommit(_ db: Database) {
        let highest = inserted.withLock { value in
            defer { value = nil }
            return value
        }
        if let highest { onCommit(highest) }
    }

    func databaseDidRollback(_ db: Database) {
        inserted.withLock { $0 = nil }
    }
}
