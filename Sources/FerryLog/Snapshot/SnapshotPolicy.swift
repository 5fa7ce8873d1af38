/// When a server builds snapshots, how it cuts them, how long it keeps them, and what it
/// prunes from the logs (`ferry serve --snapshot-… --retain-…`).
public struct SnapshotPolicy: Sendable, Hashable {
    /// Build a space's snapshot once its log has grown by this many mutations since its last
    /// one; any positive value is valid (1: after every push). `nil`: only on demand
    /// (`ferry snapshot`). Default 50,000.
    public var every: Int64?
    /// The most records in one chunk. Default 10,000.
    public var chunkRecords: Int
    /// The most bytes in one chunk (a single larger record gets a chunk of its own).
    /// Default 4 MiB.
    public var chunkBytes: Int
    /// How long the chunks of a manifest stay downloadable after it stopped being the
    /// newest. Default 1 hour.
    public var keep: Duration
    /// Keep at least this many of a space's newest mutations; older ones that a snapshot
    /// covers may be deleted. `nil` (the default): no retention by count.
    public var retainMutations: Int64?
    /// Keep at least the mutations committed within this time; older ones that a snapshot
    /// covers may be deleted. `nil` (the default): no retention by age.
    public var retainAge: Duration?
    /// How often the background service looks for work. Default 1 second.
    public var interval: Duration

    /// Creates a policy with the documented defaults.
    public init(
        every: Int64? = 50_000,
        chunkRecords: Int = 10_000,
        chunkBytes: Int = 4 << 20,
        keep: Duration = .seconds(3600),
        retainMutations: Int64? = nil,
        retainAge: Duration? = nil,
        interval: Duration = .seconds(1)
    ) {
        self.every = every.map { max(1, $0) }
        self.chunkRecords = max(1, chunkRecords)
        self.chunkBytes = max(1, chunkBytes)
        self.keep = keep
        self.retainMutations = retainMutations
        self.retainAge = retainAge
        self.interval = interval
    }

    /// Whether any retention is on.
    public var retains: Bool { retainMutations != nil || retainAge != nil }
}
