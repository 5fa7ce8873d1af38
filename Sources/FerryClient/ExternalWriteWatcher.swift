import Foundation
import GRDB
import Logging

/// Notices commits that other processes make to a database file: every `interval`, a
/// read-only connection of its own asks SQLite's `PRAGMA data_version`, which changes when
/// any other connection committed; only then does it read the outbox's highest entry id and
/// hand it to `onEntries`. Idle, a check is one pragma on an open connection.
///
/// Its sleeps are on the manager's clock, so tests drive it.
struct ExternalWriteWatcher<C: Clock>: Sendable where C.Duration == Duration {
    /// The database file.
    var path: String
    /// The time between checks.
    var interval: Duration
    var clock: C
    var logger: Logger
    /// Called with the outbox's highest entry id at the first check and after each commit by
    /// another connection (the store's own writer included: the receiver tells new entries
    /// from ones it knows).
    var onEntries: @Sendable (_ highestEntry: Int64) -> Void

    /// The file a writer's database lives in, when other processes could write it; `nil`
    /// for an in-memory database.
    static func watchablePath(of writer: any DatabaseWriter) -> String? {
        let path = writer.path
        guard !path.isEmpty, path != ":memory:", !path.hasPrefix("file:"), FileManager.default.fileExists(atPath: path) else {
            return nil
        }
        return path
    }

    /// Checks until the task is cancelled. A check that fails (the file is locked for
    /// longer than the busy timeout, say) is logged and the next one tries again.
    func run() async {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(1)
        configuration.label = "ferry.external-writes"
        let reader: DatabaseQueue
        do {
            reader = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            logger.warning(
                "cannot watch the database for other processes' writes; they sync at the next poll",
                metadata: ["ferry.database": "\(path)", "ferry.error": "\(error)"]
            )
            return
        }
        defer { try? reader.close() }
        var lastVersion: Int?
        while !Task.isCancelled {
            do {
                // Synchronous and outside a transaction: one pragma on an open connection,
                // no hop to GRDB's queue and back (which cost more than the pragma).
                let seen = lastVersion
                let (version, highest) = try reader.inDatabase { db -> (Int, Int64?) in
                    let version = try Int.fetchOne(db.cachedStatement(sql: "PRAGMA data_version")) ?? 0
                    guard version != seen else { return (version, nil) }
                    return (version, try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(client_action_id) FROM ferry_outbox")))
                }
                // The receiver tells new entries from ones it already knows.
                if let highest { onEntries(highest) }
                lastVersion = version
            } catch {
                logger.debug("a check for other processes' writes failed", metadata: ["ferry.error": "\(error)"])
            }
            do {
                try await clock.sleep(until: clock.now.advanced(by: interval), tolerance: nil)
            } catch {
                return
            }
        }
    }
}
