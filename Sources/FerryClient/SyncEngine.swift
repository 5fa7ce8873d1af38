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
        /// Bootstraps from a snapshot completed.
        public var bootstraps = 0
        /// Snapshot records applied by bootstraps.
        public var bootstrapRecords = 0
        /// Bulk chunks the server answered.
        public var bulkChunks = 0

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
    /// How far the newest snapshot must be ahead of a cursor at 0 (a new device, or one
    /// reset) for the device to bootstrap from it instead of pulling the log. Default 10,000
    /// mutations. After `410 history_pruned` a device bootstraps whatever this is.
    public var bootstrapThreshold: Int64
    /// Snapshot chunks downloaded at the same time during a bootstrap (at least 1). Default
    /// 4; at most this many chunk bodies, and one chunk's records, are held in memory.
    public var chunkConcurrency: Int
    /// Downloads of a chunk whose body does not match its SHA-256 before the bootstrap fails
    /// as transient (it resumes on the next sync). Default 3.
    public var chunkAttempts: Int
    /// Pending local mutations above which the outbox goes in bulk chunks
    /// (`POST /sync/push`) instead of push batches. Default 5,000.
    public var bulkThreshold: Int
    /// Mutations per bulk chunk. Default 10,000.
    public var bulkChunkMutations: Int
    /// Bytes per bulk chunk body: a chunk ends before the line that would pass it (it holds
    /// one line at least). Default 8 MiB.
    public var bulkChunkBytes: Int
    let logger: Logger

    /// Creates an engine.
    /// - Parameter logger: Where the engine logs its resets; by default nowhere.
    public init(
        store: LocalStore,
        transport: any SyncTransport,
        space: String,
        pushBatchSize: Int = 500,
        pullLimit: Int? = nil,
        bootstrapThreshold: Int64 = 10_000,
        bulkThreshold: Int = 5_000,
        logger: Logger = Logger(label: "ferry.sync", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.store = store
        self.transport = transport
        self.space = space
        self.pushBatchSize = pushBatchSize
        self.pullLimit = pullLimit
        self.bootstrapThreshold = bootstrapThreshold
        self.chunkConcurrency = 4
        self.chunkAttempts = 3
        self.bulkThreshold = bulkThreshold
        self.bulkChunkMutations = 10_000
        self.bulkChunkBytes = 8 << 20
        self.logger = logger
    }

    /// Pushes, then pulls until the server has nothing more, and records the outcome in the
    /// store (``LocalStore/recordSyncOutcome(space:reason:message:)``) for `ferry status`.
    /// - Parameters:
    ///   - progress: Called as a bootstrap from a snapshot goes (see ``pull(wait:into:progress:pulled:)``).
    ///   - pulled: Called after each pulled page is applied (see ``pull(wait:into:progress:pulled:)``).
    public func sync(
        progress: (@Sendable (BootstrapProgress) -> Void)? = nil,
        pulled: (@Sendable (PullProgress) -> Void)? = nil
    ) async throws -> Report {
        var report = Report()
        do {
            try await push(into: &report)
            try await pull(wait: nil, into: &report, progress: progress, pulled: pulled)
        } catch {
            recordOutcome(of: error)
            throw error
        }
        recordOutcome(of: nil)
        return report
    }

    /// Records how a sync ended in the store; a failure to record it is logged, not thrown.
    func recordOutcome(of error: (any Error)?) {
        do {
            if let error {
                let failure = SyncManager<ContinuousClock>.CycleFailure(error)
                try store.recordSyncOutcome(space: space, reason: failure.reason, message: failure.message)
            } else {
                try store.recordSyncOutcome(space: space)
            }
        } catch {
            logger.debug("could not record the sync's outcome", metadata: ["ferry.error": "\(error)"])
        }
    }

    /// Catches up with schema changes of synced tables (``LocalStore/refreshSchemaIfChanged()``),
    /// then pushes the whole outbox: in bulk chunks (``pushBulk(into:)``) when more than
    /// ``bulkThreshold`` entries wait, then batch by batch. Each entry is confirmed only by
    /// the server's answer for it; an answer that is lost leaves the entry pending, and
    /// pushing it again stores nothing twice (the server answers `duplicate`).
    /// - Parameter pushed: Called after each batch or chunk the server answered, with the
    ///   count of local mutations it confirmed or rejected so far in this call.
    public func push(into report: inout Report, pushed: (@Sendable (Int) -> Void)? = nil) async throws {
        // A migration since the last push (of this process or another) rebuilds the triggers
        // first, and queues what they missed.
        try await store.refreshSchemaIfChanged()
        let before = report.pushed + report.rejected
        if try await store.counts().pending > bulkThreshold {
            try await pushBulk(into: &report, pushed: pushed)
        }
        while let batch = try await store.nextPushBatch(space: space, limit: pushBatchSize) {
            let response = try await transport.push(batch.request)
            try await record(response, for: batch, into: &report)
            pushed?(report.pushed + report.rejected - before)
        }
    }

    /// Pushes the outbox in bulk chunks (`POST /sync/push`) of up to ``bulkChunkMutations``
    /// mutations and ``bulkChunkBytes`` bytes, one session at a time, and records each
    /// mutation's outcome as a push's (acks, duplicates, rejections, conflicts).
    ///
    /// A chunk's body is built from the outbox entries' stored text, so the same entries give
    /// the same body and chunk id: a chunk sent again after a lost answer is recognised by the
    /// server, and stores nothing twice (the dedup triples would see to it anyway).
    ///
    /// A server that refuses bulk chunks (any `permanent` answer: `404` from a server without
    /// `POST /sync/push`, `413` when its chunk limits are lower, `400`, or a transport that
    /// does not implement it) is not an error: the call returns `false` and the rest of the
    /// outbox goes in push batches.
    /// - Returns: Whether the outbox was emptied in bulk (`false` when the server refused).
    /// - Parameter pushed: Called after each chunk the server answered, with the count of
    ///   local mutations it confirmed or rejected so far in this call.
    @discardableResult
    public func pushBulk(into report: inout Report, pushed: (@Sendable (Int) -> Void)? = nil) async throws -> Bool {
        let before = report.pushed + report.rejected
        while let chunk = try await store.nextBulkChunk(space: space, maxMutations: bulkChunkMutations, maxBytes: bulkChunkBytes) {
            let response: PushResponse
            do {
                response = try await transport.bulkPush(chunk.request)
            } catch let error as SyncTransportError where error.kind == .permanent {
                logger.notice(
                    "the server refused a bulk chunk: pushing in batches",
                    metadata: ["ferry.space": "\(space)", "ferry.error": "\(error)"]
                )
                return false
            }
            report.bulkChunks += 1
            try await record(response, for: chunk.batch, into: &report)
            pushed?(report.pushed + report.rejected - before)
        }
        return true
    }

    /// Records the server's answer to a push or a bulk chunk of `batch`.
    private func record(_ response: PushResponse, for batch: LocalStore.OutboxBatch, into report: inout Report) async throws {
        try await store.recordPushResult(response, for: batch)
        report.pushed += response.acks.count + response.rejected.filter { $0.reason == .duplicate }.count
        let invalid = response.rejected.filter { $0.reason == .invalid }.count
        report.rejected += invalid
        if response.acks.isEmpty && invalid == 0 && response.rejected.isEmpty {
            // An answer that confirms nothing would make the push loop spin: stop and let the next cycle retry.
            throw SyncTransportError(
                .transient,
                "the server's push answer confirmed none of \(batch.request.mutations.count) mutations"
            )
        }
    }

    /// Pulls pages until `has_more` is false and applies each in its own transaction; the
    /// next page is requested while the current one is applied (``PullReadAhead``). The
    /// first request may long-poll for `wait`. A cursor ahead of the server (`409`) or a
    /// changed `log_id` resets the local copy and pulls from the start.
    ///
    /// Bootstraps from the newest snapshot first (see ``bootstrapIfDue(cursor:forced:into:progress:)``)
    /// when a bootstrap is in progress, when the cursor is 0 and the snapshot is more than
    /// ``bootstrapThreshold`` ahead, and after `410 history_pruned` (whatever the threshold);
    /// then pulls from the snapshot's seq. Pending local changes survive a bootstrap.
    /// - Parameters:
    ///   - progress: Called after the bootstrap's start, after each chunk applied,
    ///     and at its end (``BootstrapProgress/isFinished``); on the task that pulls.
    ///   - pulled: Called after each page is applied, on the task that pulls: the cursor,
    ///     the head the server answered with and the count applied. Cheap: no extra read.
    public func pull(
        wait: Duration?,
        into report: inout Report,
        progress: (@Sendable (BootstrapProgress) -> Void)? = nil,
        pulled: (@Sendable (PullProgress) -> Void)? = nil
    ) async throws {
        var wait = wait
        var resets = 0
        var bootstraps = 0
        // Requests still on their way when this returns or throws are cancelled with `pages`.
        var pages = PullReadAhead(transport: transport, space: space, limit: pullLimit)
        var cursor = try await store.cursor(space: space)
        var startSeq = cursor.lastSeq
        let pulledBefore = report.pulled
        var considerSnapshot = true
        while true {
            if considerSnapshot {
                considerSnapshot = false
                if try await bootstrapIfDue(cursor: cursor, forced: false, into: &report, progress: progress) {
                    bootstraps += 1
                    pages.cancel()
                    cursor = try await store.cursor(space: space)
                }
                startSeq = cursor.lastSeq
            }
            let page: PullResponse
            do {
                page = try await pages.page(since: cursor.lastSeq, wait: wait)
            } catch let error as SyncTransportError where error.kind == .cursorAhead && resets < 2 {
                logger.notice("the cursor is ahead of the server's log: resetting", metadata: ["ferry.space": "\(space)"])
                try await store.reset(space: space, logID: nil)
                resets += 1
                report.resets += 1
                cursor = try await store.cursor(space: space)
                considerSnapshot = true
                continue
            } catch let error as SyncTransportError where error.kind == .historyPruned {
                guard bootstraps < 2 else {
                    throw SyncTransportError(
                        .transient,
                        "the server's history is pruned above its newest snapshot (floor \(error.floorSeq ?? -1)); retrying later",
                        underlying: error
                    )
                }
                logger.notice(
                    "the history this device needs was pruned: bootstrapping from the snapshot",
                    metadata: ["ferry.space": "\(space)", "ferry.floor_seq": "\(error.floorSeq ?? -1)"]
                )
                try await bootstrapIfDue(cursor: cursor, forced: true, into: &report, progress: progress)
                bootstraps += 1
                pages.cancel()
                cursor = try await store.cursor(space: space)
                startSeq = cursor.lastSeq
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
                considerSnapshot = true
                continue
            }
            pages.fetchAhead(after: page)
            let applied = try await store.apply(page, space: space)
            report.pulled += applied.applied
            report.conflicts += applied.conflicts
            report.deadLetters += applied.deadLetters
            cursor = LocalStore.Cursor(lastSeq: max(cursor.lastSeq, page.latestSeq), logID: page.logID)
            pulled?(
                PullProgress(
                    space: space,
                    startSeq: startSeq,
                    seq: cursor.lastSeq,
                    headSeq: page.headSeq,
                    applied: report.pulled - pulledBefore,
                    isFinished: !page.hasMore
                )
            )
            if !page.hasMore { return }
        }
    }
}
