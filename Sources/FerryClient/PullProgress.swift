/// How far a pull has come, reported after each page applied: the cursor moves from
/// ``startSeq`` towards ``headSeq``, the head the server answered with.
public struct PullProgress: Sendable, Hashable {
    /// The space pulled.
    public var space: String
    /// The cursor when the pull began (after a bootstrap or a reset, the cursor they left).
    public var startSeq: Int64
    /// The cursor now: the last seq applied.
    public var seq: Int64
    /// The head of the space's log in the last page's answer.
    public var headSeq: Int64
    /// Remote mutations applied so far by this pull.
    public var applied: Int
    /// Whether this is the last page (the cursor reached the head the server answered with).
    public var isFinished: Bool

    /// Mutations (seqs) done since the start, for a progress display.
    public var done: Int64 { max(0, seq - startSeq) }
    /// Mutations (seqs) from the start to the head, for a progress display.
    public var total: Int64 { max(0, headSeq - startSeq) }

    /// Creates a pull's progress.
    public init(space: String, startSeq: Int64, seq: Int64, headSeq: Int64, applied: Int, isFinished: Bool) {
        self.space = space
        self.startSeq = startSeq
        self.seq = seq
        self.headSeq = headSeq
        self.applied = applied
        self.isFinished = isFinished
    }
}
