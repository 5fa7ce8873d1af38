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
    private let snapshotCalls = Mutex<(manifest: Int, chunk: Int, bulkPush: Int)>((0, 0, 0))

    /// Creates an empty server.
    /// - Parameters:
    ///   - configuration: The server's limits, and the clock that measures long-poll waits
    ///     (a test clock lets a test move them).
    ///   - clock: Gives each push its commit time (`occurred_at`).
    public init(configuration: ServerConfiguration = ServerConfiguration(), clock: WallClock = .system) {
        memoryLog = MemoryEventLog(watcher: CommitWatcher(clock: configuration.clock), clock: clock)
        endpoints = SyncEndpoints(eventLog: memoryLog, configuration: configuration)
    }

    /// A server over an existing log: a restart of a server whose store is `eventLog`.
    init(eventLog: MemoryEventLog, configuration: ServerConfiguration = ServerConfiguration()) {
        memoryLog = eventLog
        endpoints = SyncEndpoints(eventLog: eventLog, configuration: configuration)
    }

    /// How many pushes and pulls were answered.
    public var callCounts: (push: Int, pull: Int) { calls.withLock { $0 } }

    /// How many manifests, chunks and bulk pushes were answered.
    public var snapshotCallCounts: (manifest: Int, chunk: Int, bulkPush: Int) { snapshotCalls.withLock { $0 } }

    /// Builds and publishes a snapshot of `space` at its head now, as the server's background
    /// builder does; answers its manifest (`nil` when the newest is at the head already).
    @discardableResult
    public func buildSnapshot(of space: String, policy: SnapshotPolicy = SnapshotPolicy()) async throws -> SnapshotManifest? {
        try await SnapshotBuilder(store: memoryLog, policy: policy).build(space: space)?.manifest
    }

    /// Deletes `space`'s mutations through `floor` (at most up to the newest snapshot), as
    /// the server's retention does; answers the new floor.
    @discardableResult
    public func prune(space: String, through floor: Int64) async throws -> Int64 {
        try await memoryLog.prune(space: space, through: floor, dryRun: false).floorAfter
    }

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

    public func manifest(space: String) async throws -> SnapshotManifest {
        snapshotCalls.withLock { $0.manifest += 1 }
        return try await SyncTransportError.answering { try await endpoints.manifest(space: space) { _ in } }
    }

    /// Answers a chunk of any space (the in-memory server checks no tokens).
    public func chunk(id: String) async throws -> [UInt8] {
        snapshotCalls.withLock { $0.chunk += 1 }
        let spaces = try await memoryLog.logSizes().map(\.space)
        return try await SyncTransportError.answering { try await endpoints.chunk(id: id, scope: spaces) }
    }

    public func bulkPush(_ request: BulkPushRequest) async throws -> PushResponse {
        snapshotCalls.withLock { $0.bulkPush += 1 }
        return try await SyncTransportError.answering {
            try await endpoints.bulkPush(
                space: request.space,
                deviceID: request.deviceID,
                sessionID: request.sessionID,
                chunkID: request.chunkID,
                body: request.body
            ) { _ in }.response
        }
    }
}
