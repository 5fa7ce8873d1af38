/// What became of one mutation of an ``AppendBatch``.
public enum AppendOutcome: Sendable, Hashable {
    /// Stored under this seq by this batch.
    case stored(seq: Int64)
    /// Its triple was already stored, under this seq; nothing was written.
    case duplicate(seq: Int64)
}

/// The result of appending a batch: one outcome per mutation, in batch order.
public struct AppendResult: Sendable, Hashable {
    /// One outcome per mutation of the batch, in the same order.
    public var outcomes: [AppendOutcome]
    /// Stored mutations whose `base_seq` is older than another device's latest write of
    /// the same record.
    public var conflicts: [ConflictReport]
    /// The space's head after the batch.
    public var headSeq: Int64
    /// The id of the space's log.
    public var logID: String

    /// Creates a result.
    public init(outcomes: [AppendOutcome], conflicts: [ConflictReport], headSeq: Int64, logID: String) {
        self.outcomes = outcomes
        self.conflicts = conflicts
        self.headSeq = headSeq
        self.logID = logID
    }
}
