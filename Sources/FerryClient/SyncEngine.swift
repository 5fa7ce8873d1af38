import FerryCore
import Logging

/// One sync of a local store with a space: push the outbox in batches, then pull and apply
/// pages until the server has no more. The sync manager runs it on a schedule; `ferry sync`
/// runs it once.
public struct SyncEngine: Sendable {
    /// What a sync did.
    public struct Report: Sendable, Hashable {
        /// Local mutations the server stored or already had.
        public var pushed = 0
        /// Local mutations the server rejected as invalid.
        public var rejected = 0
        /// Remote mutations applied.
        public var pulled = 0
        /// Conflicts recorded while applying.
        public var conflicts = 0
        /// Remote mutations sent to the dead letters.
        public var deadLetters = 0
        /// Times the local copy was reset (cursor ahead of the server, or a new log).
        public var resets = 0

        /// An empty report.
        public init() {}
    }

    /// The local store.
    public let store: LocalStore
    /// The way to the server.
    public let transport: any SyncTransport
    /// The space this store syncs with.
    public let space: String
    /// Mutations per push. Default 500.
    public var pushBatchSize: Int
    /// Mutations per pull page; `nil` for the server's default.
    public var pullLimit: Int?
    let logger: Logger

    /// Creates an engine.
    /// - Parameter logger: Where the engine logs its resets; by default nowhere.
    public init(
        store: LocalStore,
        transport: any SyncTransport,
        space: String,
        pushBatchSize: Int = 500,
        pullLimit: Int? = nil,
        logger: Logger = Logger(label: "ferry.sync", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.store = store
        self.transport = transport
        self.space = space
        self.pushBatchSize = pushBatchSize
        self.pullLimit = pullLimit
        self.logger = logger
    }

    /// Pushes, then pulls until the server has nothing more.
    public func sync() async throws -> Report {
        var report = Report()
        try await push(into: &report)
        try await pull(wait: nil, into: &report)
        return report
    }

    /// Pushes the whole outbox, batch by batch. Each entry is confirmed only by the server's
    /// answer for it; an answer that is lost leaves the entry pending, and pushing it again
    /// stores nothing twice (the server answers `duplicate`).
    public func push(into report: inout Report) async throws {
        while let batch = try await store.nextPushBatch(space: space, limit: pushBatchSize) {
            let response = try await transport.push(batch.request)
            try await store.recordPushResult(response, for: batch)
            report.pushed += response.acks.count + response.rejected.filter { $0.reason == .duplicate }.count
            let invalid = response.rejected.filter { $0.reason == .invalid }.count
            report.rejected += invalid
            if response.acks.isEmpty && invalid == 0 && response.rejected.isEmpty {
                // An answer that confirms nothing would make this loop spin: stop and let the next cycle retry.
                throw SyncTransportError(
                    .transient,
                    "the server's push answer confirmed none of \(batch.request.mutations.count) mutations"
                )
            }
        }
    }

    /// Pulls pages until `has_more` is false and applies each in its own transaction; the
    /// next page is requested while the current one is applied (``PullReadAhead``). The
    /// first request may long-poll for `wait`. A cursor ahead of the server (`409`) or a
    /// changed `log_id` resets the local copy and pulls from the start.
    public func pull(wait: Duration?, into report: inout Report) async throws {
        var wait = wait
        var resets = 0
        // Requests still on their way when this returns or throws are cancelled with `pages`.
        var pages = PullReadAhead(transport: transport, space: space, limit: pullLimit)
        var cursor = try await store.cursor(space: space)
        while true {
            let page: PullResponse
            do {
                page = try await pages.page(since: cursor.lastSeq, wait: wait)
            } catch let error as SyncTransportError where error.kind == .cursorAhead && resets < 2 {
                logger.notice("the cursor is ahead of the server's log: resetting", metadata: ["ferry.space": "\(space)"])
                try await store.reset(space: space, logID: nil)
                resets += 1
                report.resets += 1
                cursor = try await store.cursor(space: space)
                continue
            }
            wait = nil
            if let stored = cursor.logID, stored != page.logID {
                guard resets < 2 else { throw SyncTransportError(.transient, "the server's log_id keeps changing") }
                logger.notice(
                    "the server's log was recreated: resetting",
                    metadata: ["ferry.space": "\(space)", "ferry.log_id": "\(page.logID)"]
                )
                try await store.reset(space: space, logID: page.logID)
                resets += 1
                report.resets += 1
                cursor = try await store.cursor(space: space)
                continue
            }
            pages.fetchAhead(after: page)
            let applied = try await store.apply(page, space: space)
            report.pulled += applied.applied
            report.conflicts += applied.conflicts
            report.deadLetters += applied.deadLetters
            cursor = LocalStore.Cursor(lastSeq: max(cursor.lastSeq, page.latestSeq), logID: page.logID)
            if !page.hasMore { return }
        }
    }
}
