/// What a sync manager is doing.
public struct SyncPhase: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The phase's name.
    public var rawValue: String

    /// Creates a phase from its name.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Not syncing now, and no failure pending: waiting for work or for the lease.
    public static let idle = SyncPhase(rawValue: "idle")
    /// Sending the outbox.
    public static let pushing = SyncPhase(rawValue: "pushing")
    /// Bringing other devices' changes.
    public static let pulling = SyncPhase(rawValue: "pulling")
    /// Applying a snapshot of the space (a new device, or one whose history was pruned):
    /// `bootstrapRecordsDone` of `bootstrapRecordsTotal` records so far.
    public static let bootstrapping = SyncPhase(rawValue: "bootstrapping")
    /// The last cycle failed; the next one waits until `backoffUntil`.
    public static let backoff = SyncPhase(rawValue: "backoff")
    /// The last cycle succeeded.
    public static let healthy = SyncPhase(rawValue: "healthy")
    /// Stopped for an upgrade; no cycle runs until resumed.
    public static let disabled = SyncPhase(rawValue: "disabled")

    public var description: String { rawValue }
}
