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

    /// Reads the mutations of `space` whose entity is one of `types`, with `after < seq ≤
    /// through`, ascending, at most `limit` of them: one page of an event stream. A page
    /// shorter than `limit` ends the range.
    func readStream(space: String, types: [String], after: Int64, through: Int64, limit: Int) async throws -> [StoredMutation]

    /// The space's head, log id and floor, with `deviceID`'s stream checkpoints in it, read
    /// together. Creates nothing: a space with no log answers head 0 and an empty log id.
    func streamPosition(space: String, deviceID: String) async throws -> StreamPosition

    /// Stores checked acks in one transaction: on a reset the device's checkpoints in the
    /// space are cleared first; then each type's checkpoint becomes the highest of its stored
    /// seq and the acked one (a checkpoint stored against another log is replaced).
    func storeCheckpoints(_ update: CheckpointUpdate) async throws

    /// Clears `deviceID`'s checkpoints in `space`: all of them, or those of `types`.
    func clearCheckpoints(space: String, deviceID: String, types: [String]?) async throws

    /// Returns once the space's head is above `seq` (answering `true`), or when `timeout`
    /// has passed, the task is cancelled, or the server shuts down (answering `false`).
    /// Commits made anywhere the log is shared wake the waiter.
    func waitForAppend(space: String, above seq: Int64, timeout: Duration) async -> Bool

    /// At most `limit` spaces with a log, in name order, from the first name above `after`
    /// (from the first when `nil`): one page of the operator console's list. Each comes with
    /// its head, floor, log id, the commit time of its head mutation, and the count of its
    /// mutations committed after `recentSince` (milliseconds since 1970) among the newest
    /// ``SpaceSummary/recentWritesLimit`` it holds. Creates nothing.
    func listSpaces(after: String?, limit: Int, recentSince: Int64) async throws -> [SpaceSummary]

    /// At most `limit` of the stream checkpoints stored in `space`, ordered by device then
    /// type, each marked with whether it was stored against the space's current log.
    func listCheckpoints(space: String, limit: Int) async throws -> [StoredCheckpoint]

    /// Throws when the storage does not answer.
    func checkHealth() async throws

    /// Wakes every waiter and refuses new waits, for a graceful shutdown.
    func shutdownWaiters()
}
