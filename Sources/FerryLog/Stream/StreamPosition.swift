import FerryCore

/// Where one device stands in one space's event stream: the space's log as it is now, and
/// the checkpoints the device acknowledged (protocol, "Event stream with acknowledgements").
public struct StreamPosition: Sendable, Hashable {
    /// The space's head.
    public var headSeq: Int64
    /// The id of the space's log.
    public var logID: String
    /// The space's floor: the lowest seq still held, minus one (0 while nothing was pruned).
    public var floorSeq: Int64
    /// The device's checkpoints by type, `SyncComplete` included.
    public var checkpoints: [String: Int64]
    /// Whether some of the device's checkpoints were stored while the space had another log
    /// (the log was replaced since): the device must start over.
    public var checkpointsOfAnotherLog: Bool

    /// Creates a position.
    public init(headSeq: Int64, logID: String, floorSeq: Int64 = 0, checkpoints: [String: Int64], checkpointsOfAnotherLog: Bool) {
        self.headSeq = headSeq
        self.logID = logID
        self.floorSeq = floorSeq
        self.checkpoints = checkpoints
        self.checkpointsOfAnotherLog = checkpointsOfAnotherLog
    }

    /// Whether a stream of `types` must answer `SyncReset`: a checkpoint of the device was
    /// stored against another log, or a requested type's checkpoint is above the head (the
    /// log was restored from an older backup) or below the floor (its history was pruned).
    public func needsReset(types: some Sequence<String>) -> Bool {
        if checkpointsOfAnotherLog { return true }
        return types.contains { type in
            guard let checkpoint = checkpoints[type] else { return false }
            return checkpoint > headSeq || checkpoint < floorSeq
        }
    }

    /// The seq above which `type` streams: its checkpoint, or the floor when it has none.
    public func lowerBound(of type: String) -> Int64 {
        max(checkpoints[type] ?? floorSeq, floorSeq)
    }
}

/// The acks of one request, checked and merged, to be stored in one transaction.
public struct CheckpointUpdate: Sendable, Hashable {
    /// The space.
    public var space: String
    /// The device whose checkpoints move.
    public var deviceID: String
    /// The log the acks were checked against; stored beside each checkpoint.
    public var logID: String
    /// What the acks do: clear all first on a reset, then max-wins per type.
    public var merged: StreamAck.Merged

    /// Creates an update.
    public init(space: String, deviceID: String, logID: String, merged: StreamAck.Merged) {
        self.space = space
        self.deviceID = deviceID
        self.logID = logID
        self.merged = merged
    }
}
