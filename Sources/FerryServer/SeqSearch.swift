/// The binary search behind `seqCommitted(space:atOrBefore:)` of the SQLite and PostgreSQL
/// stores: the newest seq of a range whose commit time is at or before a bound, found with
/// a handful of primary-key lookups rather than a scan, as commit times do not decrease
/// along seqs. Pure: the store answers each ``probe`` with the first mutation it holds at or
/// above that seq, and reads ``answer`` once ``probe`` is `nil`.
struct SeqSearch {
    private var low: Int64
    private var high: Int64
    private let bound: Int64
    /// The newest seq found so far committed at or before the bound; 0 when none.
    private(set) var answer: Int64 = 0

    /// A search of the seqs `low...high` for the newest committed at or before `milliseconds`.
    init(from low: Int64, through high: Int64, atOrBefore milliseconds: Int64) {
        self.low = low
        self.high = high
        self.bound = milliseconds
    }

    /// The seq to look up next (the store finds the first mutation at or above it); `nil`
    /// when the search is over.
    var probe: Int64? { low <= high ? low + (high - low) / 2 : nil }

    /// Takes the answer to ``probe``: the first mutation held at or above it (its seq and
    /// commit time), or `nil` when none is.
    mutating func found(_ mutation: (seq: Int64, occurredAt: Int64)?) {
        guard let probe else { return }
        if let mutation, mutation.seq <= high, mutation.occurredAt <= bound {
            answer = mutation.seq
            low = mutation.seq + 1
        } else {
            high = probe - 1
        }
    }
}
