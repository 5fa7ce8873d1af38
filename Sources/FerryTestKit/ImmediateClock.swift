import Synchronization

/// A clock whose sleeps return at once, moving its time to their deadline: for code that
/// waits between retries, where a test wants the waits to happen and to know how long they
/// were, without sleeping on real time or advancing a ``TestClock`` by hand.
public final class ImmediateClock: Clock, Sendable {
    /// A point in the clock's time: an offset from its start.
    public typealias Instant = TestClock.Instant

    private struct State {
        var now = Instant(offset: .zero)
        var sleeps: [Duration] = []
    }

    private let state = Mutex(State())

    /// Creates a clock at offset zero.
    public init() {}

    public var now: Instant { state.withLock { $0.now } }
    public var minimumResolution: Duration { .zero }

    /// Every sleep so far, in order: how far each moved the clock.
    public var sleeps: [Duration] { state.withLock { $0.sleeps } }

    /// Returns at once (throwing `CancellationError` if the task is cancelled), after moving
    /// the clock to `deadline` if it is later than now.
    public func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        try Task.checkCancellation()
        state.withLock { state in
            let step = deadline > state.now ? state.now.duration(to: deadline) : .zero
            state.sleeps.append(step)
            if deadline > state.now { state.now = deadline }
        }
    }

    /// Moves the clock forward without a sleep, as time spent working would.
    public func advance(by duration: Duration) {
        state.withLock { $0.now = $0.now.advanced(by: duration) }
    }
}
