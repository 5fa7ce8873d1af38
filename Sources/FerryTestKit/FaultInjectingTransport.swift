import FerryCore
import Synchronization

/// Wraps a transport and makes chosen calls fail, to test what sync code does then.
///
/// Faults are queued and used one per call, in order: a call with no queued fault goes
/// through. ``Fault/loseAnswer`` lets the call reach the server and then throws, as when a
/// connection drops after the server committed; ``Fault/corruptBody`` changes one byte of a
/// chunk's body on the way, as a broken proxy or disk would.
public final class FaultInjectingTransport: SyncTransport {
    /// What to do to one call.
    public enum Fault: Sendable {
        /// Throw this error without calling the server.
        case fail(SyncTransportError)
        /// Call the server, then throw a transient error instead of its answer.
        case loseAnswer
        /// For ``Call/chunk``: call the server and answer its body with one byte changed (the
        /// middle one; an empty body becomes one byte). Other calls go through unchanged.
        case corruptBody
    }

    /// Which calls a fault applies to.
    public enum Call: Sendable, Hashable {
        /// Pushes.
        case push
        /// Pulls.
        case pull
        /// Snapshot manifests.
        case manifest
        /// Snapshot chunk downloads.
        case chunk
        /// Bulk chunk uploads.
        case bulkPush
    }

    private let base: any SyncTransport
    private let faults = Mutex<[Call: [Fault]]>([:])
    private let counts = Mutex<[Call: Int]>([:])
    private let chunkDownloads = Mutex<[String]>([])

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

    /// Changes one byte of the next `times` chunk bodies that have no other fault queued.
    public func corruptChunks(times: Int = 1) {
        inject(.corruptBody, on: .chunk, times: times)
    }

    /// The ids of the chunks asked for, in the order of the calls, faulty or not.
    public var chunkIDsRequested: [String] { chunkDownloads.withLock { $0 } }

    private func nextFault(for call: Call) -> Fault? {
        counts.withLock { $0[call, default: 0] += 1 }
        return faults.withLock { faults in
            guard var queue = faults[call], !queue.isEmpty else { return nil }
            let fault = queue.removeFirst()
            faults[call] = queue
            return fault
        }
    }

    /// Carries out `fault` (or nothing) around `call`.
    private func perform<T>(_ fault: Fault?, _ call: () async throws -> T) async throws -> T {
        switch fault {
        case .fail(let error): throw error
        case .loseAnswer:
            _ = try await call()
            throw SyncTransportError(.transient, "the connection dropped before the answer arrived")
        case .corruptBody, nil: return try await call()
        }
    }

    public func push(_ request: PushRequest) async throws -> PushResponse {
        try await perform(nextFault(for: .push)) { try await base.push(request) }
    }

    public func manifest(space: String) async throws -> SnapshotManifest {
        try await perform(nextFault(for: .manifest)) { try await base.manifest(space: space) }
    }

    public func chunk(id: String) async throws -> [UInt8] {
        chunkDownloads.withLock { $0.append(id) }
        let fault = nextFault(for: .chunk)
        var body = try await perform(fault) { try await base.chunk(id: id) }
        if case .corruptBody = fault {
            if body.isEmpty {
                body = [0x0A]
            } else {
                body[body.count / 2] ^= 0x20
            }
        }
        return body
    }

    public func bulkPush(_ request: BulkPushRequest) async throws -> PushResponse {
        try await perform(nextFault(for: .bulkPush)) { try await base.bulkPush(request) }
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
        try await perform(nextFault(for: .pull)) {
            try await base.pull(space: space, since: since, limit: limit, excludeDevice: excludeDevice, wait: wait)
        }
    }
}
