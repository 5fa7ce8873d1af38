/// How a ``DeltaSync`` run waits and how long it keeps trying within one run.
public struct DeltaSyncConfiguration: Sendable, Hashable {
    /// How many times a run starts a sync while the source answers `ready: false`, before it
    /// fails with ``DeltaSyncError/Code/notReady``. Default 8.
    public var startAttempts: Int
    /// The pause between starts while the source is not ready: growing from 1 second to at
    /// most 30 seconds by default.
    public var startBackoff: BackoffPolicy
    /// How many `429`/`503` answers in a row a run waits out before it fails with
    /// ``DeltaSyncError/Code/rateLimited``. Default 5.
    public var rateLimitRetries: Int
    /// The pause after a `429`/`503` that did not say how long to wait: growing from 1
    /// second to at most 60 seconds by default.
    public var rateLimitBackoff: BackoffPolicy
    /// The longest `Retry-After` a run waits out itself; a longer one ends the run with
    /// ``DeltaSyncError/Code/rateLimited`` and the wait in ``DeltaSyncError/retryAfter``, for
    /// the scheduler to honour. Default 5 minutes.
    public var longestRetryAfter: Duration

    /// Creates a configuration with the documented defaults.
    public init(
        startAttempts: Int = 8,
        startBackoff: BackoffPolicy = BackoffPolicy(base: .seconds(1), maximum: .seconds(30)),
        rateLimitRetries: Int = 5,
        rateLimitBackoff: BackoffPolicy = BackoffPolicy(base: .seconds(1), maximum: .seconds(60)),
        longestRetryAfter: Duration = .seconds(300)
    ) {
        self.startAttempts = startAttempts
        self.startBackoff = startBackoff
        self.rateLimitRetries = rateLimitRetries
        self.rateLimitBackoff = rateLimitBackoff
        self.longestRetryAfter = longestRetryAfter
    }
}
