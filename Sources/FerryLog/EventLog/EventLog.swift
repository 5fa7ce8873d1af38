import FerryCore

/// The storage seam of the server: one ordered, deduplicated log per space.
///
/// Every store gives the same promises, checked by one contract test suite:
/// - seqs are 1, 2, 3, … per space, dense and commit-ordered: once a reader can see seq N
///   it can see every seq below N;
/// - a batch is appended in one transaction, and is durable when ``append(_:)`` returns;
/// - a (device, session, client action id) triple is stored at most once per space;
/// - a space's log, and its `log_id`, is created by the first append or read that names it.
public protocol EventLog: Sendable {
    /// Appends a batch in one transaction and answers what became of each mutation.
    func append(_ batch: AppendBatch) async throws -> AppendResult

    /// Reads the mutations with `seq > since`, at most `limit` of them, leaving out those
    /// written by `excludingDevice`.
    ///
    /// The page's `latestSeq` is the seq of its last mutation when the page is full, and the
    /// head otherwise, so that excluded mutations are covered too.
    /// - Throws: ``FerryError`` with code `cursor_ahead` when `since` is above the head.
    func read(space: String, since: Int64, limit: Int, excludingDevice: String?) async throws -> LogPage

    /// Returns once the space's head is above `seq` (answering `true`), or when `timeout`
    /// has passed, the task is cancelled, or the server shuts down (answering `false`).
    /// Commits made anywhere the log is shared wake the waiter.
    func waitForAppend(space: String, above seq: Int64, timeout: Duration) async -> Bool

    /// Throws when the storage does not answer.
    func checkHealth() async throws

    /// Wakes every waiter and refuses new waits, for a graceful shutdown.
    func shutdownWaiters()
}
