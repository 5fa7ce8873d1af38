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
