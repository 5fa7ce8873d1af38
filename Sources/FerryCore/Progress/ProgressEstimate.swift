/// The rate and time left of a long task, from how much is done, out of how much, and for
/// how long it has run: a pure function of its inputs, so that it is tested without a clock.
public struct ProgressEstimate: Sendable, Hashable {
    /// Units done so far.
    public var done: Int64
    /// Units in all, when known.
    public var total: Int64?
    /// Units per second since the start, when at least one unit was done in a positive time.
    public var rate: Double?
    /// Time left at ``rate`` for the units not yet done, when both the total and the rate
    /// are known (zero once done reaches the total).
    public var remaining: Duration?

    /// Creates an estimate from its parts.
    public init(done: Int64, total: Int64?, rate: Double?, remaining: Duration?) {
        self.done = done
        self.total = total
        self.rate = rate
        self.remaining = remaining
    }

    /// Estimates the rate and the time left.
    /// - Parameters:
    ///   - done: Units done so far.
    ///   - total: Units in all, when known; a total below `done` counts as `done`.
    ///   - doneAtStart: Units done before the measure began (a resumed task), left out of
    ///     the rate.
    ///   - elapsed: Time since the measure began.
    public static func estimate(done: Int64, total: Int64?, doneAtStart: Int64 = 0, elapsed: Duration) -> ProgressEstimate {
        let seconds = elapsed.progressSeconds
        let measured = done - doneAtStart
        let rate: Double? = seconds > 0 && measured > 0 ? Double(measured) / seconds : nil
        let total = total.map { max($0, done) }
        var remaining: Duration?
        if let total {
            if done >= total {
                remaining = .zero
            } else if let rate {
                remaining = .milliseconds(Int64((Double(total - done) / rate * 1000).rounded(.up)))
            }
        }
        return ProgressEstimate(done: done, total: total, rate: rate, remaining: remaining)
    }

    /// The fraction done, 0 to 1, when the total is known (1 for a total of 0).
    public var fraction: Double? {
        guard let total else { return nil }
        guard total > 0 else { return 1 }
        return min(1, max(0, Double(done) / Double(total)))
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    var progressSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
