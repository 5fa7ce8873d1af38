import FerryCore
import FerryLog
import Synchronization

/// A Ferry server in memory, reached without a network: for unit tests of sync code.
///
/// It is the server's own push and pull (the same validation, limits and long-poll as
/// `ferry serve`) over a ``FerryLog/MemoryEventLog``, so a test meets exactly the rules of
/// the real server: dense seqs per space, the dedup triple, conflict reports, `invalid`
/// rejections, `exclude_device`, `has_more`, `409 cursor_ahead`, and a `wait` that is woken
/// by another device's push. It does not check tokens. Errors are thrown as the HTTP
/// transport would classify the server's answer.
public final class InMemoryTransport: SyncTransport {
    /// The server's endpoints, shared with the ``InMemoryEventStream``s of this server.
    let endpoints: SyncEndpoints
    private let memoryLog: MemoryEventLog
    private let calls = Mutex<(push: Int, pull: Int)>((0, 0))

    /// Creates an empty server.
    /// - Parameters:
    ///   - configuration: The server's limits, and the clock that measures long-poll waits
    ///     (a test clock lets a test move them).
    ///   - clock: Gives each push its commit time (`occurred_at`).
    public init(configuration: ServerConfiguration = ServerConfiguration(), clock: WallClock = .system) {
        memoryLog = MemoryEventLog(watcher: CommitWatcher(clock: configuration.clock), clock: clock)
        endpoints = SyncEndpoints(eventLog: memoryLog, configuration: configuration)
    }

    /// How many pushes and pulls were answered.
    public var callCounts: (push: Int, pull: Int) { calls.withLock { $0 } }

    /// The server's log, to inspect or to reset a space's log.
    public var eventLog: MemoryEventLog { memoryLog }

    /// Every mutation of `space`, in seq order, as stored (payloads as JSON text).
    public func log(of space: String) -> [StoredMutation] {
        memoryLog.mutations(of: space)
    }

    /// Forgets `space`'s log: the next request recreates it with a new `log_id`, as a server
    /// restored from an empty backup would.
    public func wipe(space: String) {
        memoryLog.replaceLog(of: space)
    }

    public func push(_ request: PushRequest) async throws -> PushResponse {
        calls.withLock { $0.push += 1 }
        return try await SyncTransportError.answering { try await endpoints.push(PushEnvelope(request)) { _ in }.response }
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
        calls.withLock { $0.pull += 1 }
        return try await SyncTransportError.answering {
            let query = try PullQuery(
                space: space,
                since: since,
                limit: limit,
                excludeDevice: excludeDevice,
                wait: wait,
                configuration: endpoints.configuration
            )
            let page = try await endpoints.pull(query)
            return PullResponse(
                mutations: try page.mutations.map { try $0.logged() },
                hasMore: page.hasMore,
                latestSeq: page.latestSeq,
                headSeq: page.headSeq,
                logID: page.logID,
                floorSeq: page.floorSeq
            )
        }
    }
}
