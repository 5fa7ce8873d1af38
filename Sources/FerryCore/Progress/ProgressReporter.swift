import Synchronization

/// Shows a long task's progress as text: on a terminal one line rewritten in place (`\r`)
/// with a bar, done/total, rate and time left; elsewhere plain lines, at most one every
/// ``plainInterval`` (and one per phase and at the end), without carriage returns.
///
/// The reporter does no I/O of its own and reads no clock: it writes through `write` and
/// reads the time through `now`, so that tests drive both. A command-line tool gives it
/// standard error, so that standard output stays machine-readable.
public final class ProgressReporter: Sendable {
    /// How the progress is shown.
    public enum Style: Sendable, Hashable {
        /// One line rewritten in place, with a bar (standard error is a terminal).
        case terminal
        /// Plain lines, one every ``ProgressReporter/plainInterval`` at most.
        case plain
        /// Nothing (a quiet or machine-readable mode).
        case silent
    }

    private struct State {
        var label: String
        var total: Int64?
        var done: Int64 = 0
        var doneAtStart: Int64
        var start: Duration
        var lastLine: Duration?
        var finished = false
        var lineOpen = false
    }

    /// The units counted, plural (`mutations`, `records`, `events`).
    public let unit: String
    /// How the progress is shown.
    public let style: Style
    /// The least time between two plain lines. Default 2 seconds.
    public let plainInterval: Duration
    /// The least time between two redraws on a terminal. Default 100 ms.
    public let terminalInterval: Duration
    private let now: @Sendable () -> Duration
    private let write: @Sendable (String) -> Void
    private let state: Mutex<State>

    /// Creates a reporter; the measure of the rate begins now.
    /// - Parameters:
    ///   - label: What the task is, at the start of each line (`pull notes`).
    ///   - unit: The units counted, plural.
    ///   - total: Units in all, when known (``update(done:total:)`` may set it later).
    ///   - doneAtStart: Units already done when the measure begins (a resumed task): they
    ///     count in done/total but not in the rate.
    ///   - now: The time since any fixed origin (a monotonic clock's reading).
    ///   - write: Where the text goes, with its own `\r` and `\n`.
    public init(
        label: String,
        unit: String,
        total: Int64? = nil,
        doneAtStart: Int64 = 0,
        style: Style,
        plainInterval: Duration = .seconds(2),
        terminalInterval: Duration = .milliseconds(100),
        now: @escaping @Sendable () -> Duration,
        write: @escaping @Sendable (String) -> Void
    ) {
        self.unit = unit
        self.style = style
        self.plainInterval = plainInterval
        self.terminalInterval = terminalInterval
        self.now = now
        self.write = write
        self.state = Mutex(
            State(label: label, total: total, done: doneAtStart, doneAtStart: doneAtStart, start: now())
        )
    }

    /// Records that `done` units are done (of `total`, when given: it replaces the total
    /// known so far) and shows it unless a line was shown less than an interval ago.
    public func update(done: Int64, total: Int64? = nil) {
        let time = now()
        let text: String? = state.withLock { state in
            guard !state.finished else { return nil }
            state.done = done
            if let total { state.total = total }
            let interval = style == .terminal ? terminalInterval : plainInterval
            if let last = state.lastLine, time - last < interval { return nil }
            state.lastLine = time
            return render(&state, at: time, finished: false)
        }
        if let text { write(text) }
    }

    /// Shows `message` on a line of its own (a phase begins: `downloading 12 chunks`), and
    /// starts the plain interval again.
    public func note(_ message: String) {
        let time = now()
        let text: String? = state.withLock { state in
            guard style != .silent else { return nil }
            let label = state.label
            let prefix = style == .terminal && state.lineOpen ? "\r\u{1B}[2K" : ""
            state.lineOpen = false
            state.lastLine = time
            return prefix + label + ": " + message + "\n"
        }
        if let text { write(text) }
    }

    /// Shows the last line (always), with `done` and `total` when given; a terminal's line
    /// ends. Later updates show nothing.
    public func finish(done: Int64? = nil, total: Int64? = nil) {
        let time = now()
        let text: String? = state.withLock { state in
            guard !state.finished else { return nil }
            if let done { state.done = done }
            if let total { state.total = total }
            state.finished = true
            return render(&state, at: time, finished: true)
        }
        if let text { write(text) }
    }

    /// Shows `line` as it is in place of the counts (a free-form step: `[bench 0:12]
    /// pushing`): on a terminal it replaces the line, elsewhere it is a line of its own.
    /// Not throttled.
    public func show(_ line: String) {
        let text: String? = state.withLock { state in
            switch style {
            case .silent: return nil
            case .terminal:
                state.lineOpen = true
                return "\r\u{1B}[2K" + line
            case .plain: return line + "\n"
            }
        }
        if let text { write(text) }
    }

    /// Clears a terminal's open line (nothing elsewhere), so that what follows starts on a
    /// clean line.
    public func clear() {
        let text: String? = state.withLock { state in
            guard style == .terminal, state.lineOpen else { return nil }
            state.lineOpen = false
            return "\r\u{1B}[2K"
        }
        if let text { write(text) }
    }

    /// Whether anything was shown yet.
    public var hasShown: Bool {
        state.withLock { $0.lastLine != nil || $0.lineOpen || $0.finished }
    }

    /// The time since the reporter was created.
    public var elapsed: Duration {
        let time = now()
        return state.withLock { time - $0.start }
    }

    /// The estimate of the progress so far.
    public var estimate: ProgressEstimate {
        let time = now()
        return state.withLock { state in
            ProgressEstimate.estimate(done: state.done, total: state.total, doneAtStart: state.doneAtStart, elapsed: time - state.start)
        }
    }

    private func render(_ state: inout State, at time: Duration, finished: Bool) -> String? {
        let estimate = ProgressEstimate.estimate(
            done: state.done,
            total: state.total,
            doneAtStart: state.doneAtStart,
            elapsed: time - state.start
        )
        switch style {
        case .silent:
            return nil
        case .terminal:
            state.lineOpen = !finished
            let line = Self.line(label: state.label, unit: unit, estimate: estimate, bar: true, finished: finished)
            return "\r\u{1B}[2K" + line + (finished ? "\n" : "")
        case .plain:
            return Self.line(label: state.label, unit: unit, estimate: estimate, bar: false, finished: finished) + "\n"
        }
    }

    /// One progress line, without `\r` or `\n`:
    /// `pull notes: [#######.............] 35% 3500/10000 mutations, 1750/s, 4s left`;
    /// without a bar when `bar` is false, without a percentage when the total is unknown,
    /// with `, done` and the whole time when `finished`.
    public static func line(label: String, unit: String, estimate: ProgressEstimate, bar: Bool, finished: Bool) -> String {
        var text = label + ": "
        if let fraction = estimate.fraction {
            if bar {
                let width = 20
                let filled = Int(fraction * Double(width))
                text += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            }
            text += "\(Int(fraction * 100))% \(estimate.done)/\(estimate.total ?? estimate.done) \(unit)"
        } else {
            text += "\(estimate.done) \(unit)"
        }
        if let rate = estimate.rate {
            text += ", \(formatRate(rate))/s"
        }
        if finished {
            text += ", done"
        } else if let remaining = estimate.remaining, let total = estimate.total, estimate.done < total {
            text += ", \(format(remaining)) left"
        }
        return text
    }

    /// A rate: whole units at 10/s and above, one decimal below.
    public static func formatRate(_ rate: Double) -> String {
        if rate >= 10 { return "\(Int(rate.rounded()))" }
        let tenths = Int((rate * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    /// A duration for people, rounded up to the second: `45s`, `3m05s`; from an hour on,
    /// to the nearest minute: `2h07m`.
    public static func format(_ duration: Duration) -> String {
        let (whole, attoseconds) = duration.components
        let seconds = max(0, whole + (attoseconds > 0 ? 1 : 0))
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m" + twoDigits(seconds % 60) + "s" }
        let minutes = (seconds + 30) / 60
        return "\(minutes / 60)h" + twoDigits(minutes % 60) + "m"
    }

    private static func twoDigits(_ value: Int64) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}
