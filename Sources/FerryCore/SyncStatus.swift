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
    /// The last cycle failed; the next one waits until `backoffUntil`.
    public static let backoff = SyncPhase(rawValue: "backoff")
    /// The last cycle succeeded.
    public static let healthy = SyncPhase(rawValue: "healthy")
    /// Stopped for an upgrade; no cycle runs until resumed.
    public static let disabled = SyncPhase(rawValue: "disabled")

    public var description: String { rawValue }
}

/// A snapshot of a sync manager's state, for an app's UI or a status command.
public struct SyncStatus: Sendable, Hashable, Codable {
    /// What the manager is doing.
    public var phase: SyncPhase
    /// Why it is in this phase, as a code: `auth_required`, `policy_forbidden`,
    /// `transient`, `permanent`, `lease_held`, `upgrade`, `internal_error`; `nil` when healthy.
    public var reasonCode: String?
    /// The reason for people.
    public var reasonMessage: String?
    /// The last error's text.
    public var lastError: String?
    /// Failed cycles since the last success.
    public var consecutiveFailures: Int
    /// When the next attempt may run, in milliseconds since 1970, while backing off.
    public var backoffUntil: Int64?
    /// When the last cycle succeeded, in milliseconds since 1970.
    public var lastSyncAt: Int64?
    /// Local mutations not yet acknowledged by the server.
    public var pending: Int
    /// Local mutations the server rejected as invalid (kept, with their reason).
    public var rejected: Int
    /// Remote mutations this device could not apply.
    public var deadLetters: Int
    /// Recorded conflicts not yet acknowledged.
    public var conflicts: Int

    /// Creates a status.
    public init(
        phase: SyncPhase = .idle,
        reasonCode: String? = nil,
        reasonMessage: String? = nil,
        lastError: String? = nil,
        consecutiveFailures: Int = 0,
        backoffUntil: Int64? = nil,
        lastSyncAt: Int64? = nil,
        pending: Int = 0,
        rejected: Int = 0,
        deadLetters: Int = 0,
        conflicts: Int = 0
    ) {
        self.phase = phase
        self.reasonCode = reasonCode
        self.reasonMessage = reasonMessage
        self.lastError = lastError
        self.consecutiveFailures = consecutiveFailures
        self.backoffUntil = backoffUntil
        self.lastSyncAt = lastSyncAt
        self.pending = pending
        self.rejected = rejected
        self.deadLetters = deadLetters
        self.conflicts = conflicts
    }

    enum CodingKeys: String, CodingKey {
        case phase
        case reasonCode = "reason_code"
        case reasonMessage = "reason_message"
        case lastError = "last_error"
        case consecutiveFailures = "consecutive_failures"
        case backoffUntil = "backoff_until"
        case lastSyncAt = "last_sync_at"
        case pending
        case rejected
        case deadLetters = "dead_letters"
        case conflicts
    }
}

/// Exponential backoff with jitter.
///
/// The n-th consecutive failure waits `min(maximum, base · 2^(n−1))`, moved by a jitter of
/// at most a quarter of itself either way. It never gives up: after many failures it keeps
/// retrying at about the maximum delay.
public struct BackoffPolicy: Sendable, Hashable {
    /// The delay after the first failure. Default 1 second.
    public var base: Duration
    /// The longest delay before jitter. Default 5 minutes.
    public var maximum: Duration
    /// The largest jitter as a fraction of the delay. Default 0.25.
    public var jitter: Double

    /// Creates a policy with the documented defaults.
    public init(base: Duration = .seconds(1), maximum: Duration = .seconds(300), jitter: Double = 0.25) {
        self.base = base
        self.maximum = maximum
        self.jitter = jitter
    }

    /// The delay before jitter after `failures` consecutive failures (1 or more).
    public func nominalDelay(afterFailures failures: Int) -> Duration {
        guard failures > 0 else { return .zero }
        let exponent = min(failures - 1, 40)
        let delay = base * Double(1 << UInt64(exponent))
        return min(delay, maximum)
    }

    /// The delay after `failures` consecutive failures, with `unit` (in 0...1) picking the
    /// jitter: 0 gives the shortest delay, 1 the longest, 0.5 the nominal one.
    public func delay(afterFailures failures: Int, unit: Double) -> Duration {
        let nominal = nominalDelay(afterFailures: failures)
        let clamped = min(max(unit, 0), 1)
        return nominal * (1 + jitter * (2 * clamped - 1))
    }
}
