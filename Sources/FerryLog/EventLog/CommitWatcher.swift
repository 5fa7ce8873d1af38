import Synchronization

/// Wakes long-poll waiters when a space's head moves.
///
/// Stores call ``publish(space:head:)`` after each commit; waiters call
/// ``wait(space:above:timeout:)``. The watcher remembers the highest head published for
/// each space, so a commit that lands between a waiter's read and its call to `wait` is
/// never missed. Waiting costs no polling: a waiter sleeps until published to, cancelled,
/// or its timeout.
public final class CommitWatcher: Sendable {
    private struct Waiter {
        var threshold: Int64
        var continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var heads: [String: Int64] = [:]
        var waiters: [String: [UInt64: Waiter]] = [:]
        var nextID: UInt64 = 0
        var isShutDown = false
        /// The spaces published to since ``takePublishedSpaces()`` last took them; `nil`
        /// until it is first called (nothing is collected for nobody).
        var published: Set<String>?
    }

    private let state = Mutex(State())
    private let clock: any Clock<Duration>
    private let onWaitersChanged: @Sendable (Int) -> Void

    /// Creates a watcher.
    /// - Parameters:
    ///   - clock: The clock that measures timeouts.
    ///   - onWaitersChanged: Called with +1 or -1 each time a waiter starts or stops waiting.
    public init(clock: any Clock<Duration> = ContinuousClock(), onWaitersChanged: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.clock = clock
        self.onWaitersChanged = onWaitersChanged
    }

    /// Records that `space`'s head is now `head` and wakes the waiters it satisfies.
    public func publish(space: String, head: Int64) {
        let woken: [CheckedContinuation<Bool, Never>] = state.withLock { state in
            if let known = state.heads[space], known >= head { return [] }
            state.heads[space] = head
            state.published?.insert(space)
            guard var waiting = state.waiters[space] else { return [] }
            var woken: [CheckedContinuation<Bool, Never>] = []
            for (id, waiter) in waiting where waiter.threshold < head {
                woken.append(waiter.continuation)
                waiting[id] = nil
            }
            state.waiters[space] = waiting.isEmpty ? nil : waiting
            return woken
        }
        for continuation in woken { continuation.resume(returning: true) }
    }

    /// The spaces whose head moved since the previous call (the first call answers `nil`:
    /// nothing was collected before it, so the caller must look at every space once).
    ///
    /// The background snapshot rounds look only at these between their full sweeps, so that
    /// a server holding many spaces does not read every one of them every second. What is
    /// kept is bounded by the spaces written between two calls.
    public func takePublishedSpaces() -> Set<String>? {
        state.withLock { state in
            defer { state.published = [] }
            return state.published
        }
    }

    /// Forgets the head published for `space`, whose log was replaced by one that starts
    /// again from seq 0; waiters go on waiting for a head above their seq.
    public func forget(space: String) {
        state.withLock { _ = $0.heads.removeValue(forKey: space) }
    }

    /// Waits until a head above `seq` is published for `space` (`true`), or until the
    /// timeout, cancellation or ``shutdown()`` (`false`).
    public func wait(space: String, above seq: Int64, timeout: Duration) async -> Bool {
        if let known = state.withLock({ $0.heads[space] }), known > seq { return true }
        guard timeout > .zero else { return false }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.waitUntilPublished(space: space, above: seq) }
            group.addTask { [clock] in
                try? await clock.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// Wakes every waiter with `false` and makes later waits return at once.
    public func shutdown() {
        let all: [CheckedContinuation<Bool, Never>] = state.withLock { state in
            state.isShutDown = true
            let all = state.waiters.values.flatMap { $0.values.map(\.continuation) }
            state.waiters = [:]
            return all
        }
        for continuation in all { continuation.resume(returning: false) }
    }

    private func waitUntilPublished(space: String, above seq: Int64) async -> Bool {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        onWaitersChanged(1)
        defer { onWaitersChanged(-1) }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let immediate: Bool? = state.withLock { state in
                    if state.isShutDown || Task.isCancelled { return false }
                    if let known = state.heads[space], known > seq { return true }
                    state.waiters[space, default: [:]][id] = Waiter(threshold: seq, continuation: continuation)
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                let waiter = state.waiters[space]?.removeValue(forKey: id)
                if state.waiters[space]?.isEmpty == true { state.waiters[space] = nil }
                return waiter?.continuation
            }
            continuation?.resume(returning: false)
        }
    }
}
