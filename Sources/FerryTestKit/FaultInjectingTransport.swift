import FerryCore
import Synchronization

/// Wraps a transport and makes chosen calls fail, to test what sync code does then.
///
/// Faults are queued and used one per call, in order: a call with no queued fault goes
/// through. ``Fault/loseAnswer`` lets the call reach the server and then throws, as when a
/// connection drops after the server committed.
public final class FaultInjectingTransport: SyncTransport {
    /// What to do to one call.
    public enum Fault: Sendable {
        /// Throw this error without calling the server.
        case fail(SyncTransportError)
        /// Call the server, then throw a transient error instead of its answer.
        case loseAnswer
    }

    /// Which calls a fault applies to.
    public enum Call: Sendable, Hashable {
        /// Pushes.
        case push
        /// Pulls.
        case pull
    }

    private let base: any SyncTransport
    private let faults = Mutex<[Call: [Fault]]>([:])
    private let counts = Mutex<[Call: Int]>([:])

    /// Wraps `base`.
    public init(_ base: any SyncTransport) {
        self.base = base
    }

    /// Queues `fault` for the next `call`s that have none, `times` times.
    public func inject(_ fault: Fault, on call: Call, times: Int = 1) {
        faults.withLock { $0[call, default: []] += Array(repeating: fault, count: times) }
    }

    /// Queues a failure for every call of the kind until ``clearFaults()`` (up to `limit`).
    public func failAll(_ call: Call, with error: SyncTransportError, limit: Int = 10_000) {
        inject(.fail(error), on: call, times: limit)
    }

    /// Drops every queued fault.
    public func clearFaults() {
        faults.withLock { $0 = [:] }
    }

    /// How many calls of each kind were made, faulty or not.
    public func count(of call: Call) -> Int { counts.withLock { $0[call] ?? 0 } }

    private func nextFault(for call: Call) -> Fault? {
        counts.withLock { $0[call, default: 0] += 1 }
        return faults.withLock { faults in
            guard var queue = faults[call], !queue.isEmpty else { return nil }
            let fault = queue.removeFirst()
            faults[call] = queue
            return fault
        }
    }

    public func push(_ request: PushRequest) async throws -> PushResponse {
        switch nextFault(for: .push) {
        case .fail(let error): throw error
        case .loseAnswer:
            _ = try await base.push(request)
            throw SyncTransportError(.transient, "the connection dropped before the answer arrived")
        case nil: return try await base.push(request)
        }
    }

    public func pull(
        space: String,
        since: Int64,
        limit: Int?,
        excludeDevice: String?,
        wait: Duration?
    ) async throws
        -> PullResponse
    {
        switch nextFault(for: .pull) {
        case .fail(let error): throw error
        case .loseAnswer:
            _ = try await base.pull(space: space, since: since, limit: limit, excludeDevice: excludeDevice, wait: wait)
            throw SyncTransportError(.transient, "the connection dropped before the answer arrived")
        case nil: return try await base.pull(space: space, since: since, limit: limit, excludeDevice: excludeDevice, wait: wait)
        }
    }
}
