/// One space's log as the operator console lists it (``EventLog/listSpaces(after:limit:recentSince:)``).
public struct SpaceSummary: Sendable, Hashable {
    /// The most mutations ``recentWrites`` counts: the count looks at the newest mutations
    /// held, at most this many, so that listing a busy space stays cheap.
    public static let recentWritesLimit: Int64 = 1000

    /// The space's name.
    public var space: String
    /// The id of the space's log.
    public var logID: String
    /// The space's head.
    public var headSeq: Int64
    /// The space's floor: the lowest seq still held, minus one (0 while nothing was pruned).
    public var floorSeq: Int64
    /// The mutations the log holds: `headSeq - floorSeq`.
    public var mutations: Int64 { headSeq - floorSeq }
    /// The commit time of the head mutation, in milliseconds since 1970; `nil` when the log
    /// holds no mutation.
    public var lastWriteMilliseconds: Int64?
    /// The mutations committed after the `recentSince` time of the listing, counted among the
    /// newest ``recentWritesLimit`` held (so at most that many).
    public var recentWrites: Int64

    /// Creates a summary.
    public init(space: String, logID: String, headSeq: Int64, floorSeq: Int64, lastWriteMilliseconds: Int64?, recentWrites: Int64) {
        self.space = space
        self.logID = logID
        self.headSeq = headSeq
        self.floorSeq = floorSeq
        self.lastWriteMilliseconds = lastWriteMilliseconds
        self.recentWrites = recentWrites
    }
}

/// One stored stream checkpoint: how far a device acknowledged one type in one space
/// (``EventLog/listCheckpoints(space:limit:)``).
public struct StoredCheckpoint: Sendable, Hashable {
    /// The device that acknowledged.
    public var deviceID: String
    /// The type (an entity name, or `SyncComplete`).
    public var type: String
    /// The highest seq acknowledged for the type.
    public var seq: Int64
    /// Whether the checkpoint was stored against the space's current log (`false` once the
    /// log was replaced: the device will get `SyncReset`).
    public var ofCurrentLog: Bool

    /// Creates a checkpoint.
    public init(deviceID: String, type: String, seq: Int64, ofCurrentLog: Bool) {
        self.deviceID = deviceID
        self.type = type
        self.seq = seq
        self.ofCurrentLog = ofCurrentLog
    }
}
