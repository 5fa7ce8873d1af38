/// Where a delta sync writes: the records, the deletions and, at the end, the tokens.
///
/// A run stages its pages, each in one transaction, and ``finish(stream:tokens:sweep:)``
/// applies everything staged together with the new tokens in one transaction of the same
/// store. So the stored tokens are never ahead of the stored data, and readers of the
/// records only ever see the state after a finished sync: a run cut short anywhere leaves
/// the records as they were, and the next run (from the same tokens) repeats the work.
/// Staging a page twice must be harmless. `FerryClient.LocalDeltaSink` is the default sink;
/// `FerryTestKit` has an in-memory one.
public protocol DeltaSink: Sendable {
    /// The tokens the last finished sync of `stream` stored, or `nil` before the first.
    func tokens(stream: String) async throws -> DeltaTokens?

    /// A run of `stream` begins (a full sync when `fullSync`): forget whatever an earlier
    /// run that did not finish staged.
    func begin(stream: String, fullSync: Bool) async throws

    /// Stages `records` of `stream` to be inserted or replaced, in one transaction.
    func upsert(_ records: [DeltaRecord], stream: String) async throws

    /// Stages the records of `stream` with these ids to be deleted, in one transaction; ids
    /// the store does not have are ignored when applied. A deletion staged after an upsert
    /// of the same id wins.
    func delete(ids: [String], stream: String) async throws

    /// Ends a run of `stream` in one transaction: applies the staged upserts, then the
    /// staged deletions; with `sweep` (a full sync), also deletes the records of the stream
    /// that the run did not stage as upserts; then stores `tokens`.
    /// - Returns: How many records the sweep deleted.
    func finish(stream: String, tokens: DeltaTokens, sweep: Bool) async throws -> Int
}
