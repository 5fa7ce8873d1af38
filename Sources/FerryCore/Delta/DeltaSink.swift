/// Where a delta sync writes: the records, the deletions and, at the end, the tokens.
///
/// The promise that makes a sync safe to cut short at any point: ``finish(stream:tokens:sweep:)``
/// writes the tokens in a transaction of the same store as the records, after every page was
/// written, so the stored tokens are never ahead of the stored data. Writing a page twice
/// must be harmless. `FerryClient.LocalStore` is the default sink; `FerryTestKit` has an
/// in-memory one.
public protocol DeltaSink: Sendable {
    /// The tokens the last finished sync of `stream` stored, or `nil` before the first.
    func tokens(stream: String) async throws -> DeltaTokens?

    /// A full sync of `stream` begins: forget which records earlier attempts marked as seen.
    func beginFullSync(stream: String) async throws

    /// Inserts or replaces `records` of `stream` in one transaction. During a full sync
    /// (`marking`), also marks them as seen, so that ``finish(stream:tokens:sweep:)`` keeps them.
    func upsert(_ records: [DeltaRecord], stream: String, marking: Bool) async throws

    /// Deletes the records of `stream` with these ids, in one transaction; unknown ids are
    /// ignored.
    func delete(ids: [String], stream: String) async throws

    /// Ends a sync of `stream` in one transaction: with `sweep`, deletes the records of the
    /// stream not marked as seen since ``beginFullSync(stream:)``; then stores `tokens`.
    /// - Returns: How many records the sweep deleted.
    func finish(stream: String, tokens: DeltaTokens, sweep: Bool) async throws -> Int
}
