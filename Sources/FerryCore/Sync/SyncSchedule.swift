/// The timing of a sync manager's cycles.
public struct SyncSchedule: Sendable, Hashable {
    /// How long after a local write the cycle starts, so that a burst of writes makes one
    /// cycle (the writes until then join it). Default 100 ms: with it, a write reaches a
    /// live peer about 15 ms after the debounce on loopback (`ferry bench`,
    /// docs/benchmarks.md), and a device that writes without pause makes at most ten cycles
    /// a second.
    public var debounce: Duration
    /// How often an idle manager syncs when nothing asks it to. Default 30 seconds.
    public var pollInterval: Duration
    /// Live mode: while idle, hold a long-poll pull open so other devices' changes arrive
    /// within milliseconds. Default off.
    public var live: Bool
    /// The long-poll `wait` in live mode. Default 30 seconds.
    public var liveWait: Duration
    /// How long a lease lasts; renewed every cycle. Default 60 seconds.
    public var leaseDuration: Duration
    /// The backoff after failures.
    public var backoff: BackoffPolicy
    /// How often the manager looks for commits by other processes (another program writing
    /// the same database file, as beside `ferry sync --watch`): a read-only connection asks
    /// SQLite's `PRAGMA data_version` at this interval and, when the outbox gained entries,
    /// starts a cycle after the debounce. `nil` (the default) looks only at writes through
    /// the store's own `DatabaseWriter`, which the manager notices at their commit without
    /// any polling; an in-memory database has no other process and is never watched.
    public var externalWriteCheck: Duration?

    /// Creates a schedule with the documented defaults.
    public init(
        debounce: Duration = .milliseconds(100),
        pollInterval: Duration = .seconds(30),
        live: Bool = false,
        liveWait: Duration = .seconds(30),
        leaseDuration: Duration = .seconds(60),
        backoff: BackoffPolicy = BackoffPolicy(),
        externalWriteCheck: Duration? = nil
    ) {
        self.debounce = debounce
        self.pollInterval = pollInterval
        self.live = live
        self.liveWait = liveWait
        self.leaseDuration = leaseDuration
        self.backoff = backoff
        self.externalWriteCheck = externalWriteCheck
    }
}
