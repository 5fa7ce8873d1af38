import FerryCore
import Logging
import ServiceLifecycle

/// The server's background snapshot work, run beside the HTTP server as a `Service`: every
/// ``SnapshotPolicy/interval`` it
/// 1. builds a snapshot of each space whose log grew by ``SnapshotPolicy/every`` mutations
///    since its newest one (``SnapshotBuilder``; never on a request's path);
/// 2. prunes each space's log to what the retention settings keep, never above the newest
///    snapshot (``SnapshotStore/prune(space:through:dryRun:)``);
/// 3. collects the manifests superseded longer ago than ``SnapshotPolicy/keep``, and the
///    chunks no manifest names any more (once a minute, or once per keep time if shorter).
///
/// Servers of a cluster each run one; they may build the same snapshot, and the store
/// publishes only one (the state moves by compare-and-set).
public struct SnapshotService: Service {
    /// What a round did, for metrics.
    public struct Observer: Sendable {
        /// A snapshot was published.
        public var built: @Sendable (String, SnapshotBuilder.Outcome) -> Void
        /// Mutations were pruned.
        public var pruned: @Sendable (PruneOutcome) -> Void
        /// The log sizes at the end of a round.
        public var sizes: @Sendable ([SpaceLogSize]) -> Void

        /// Creates an observer.
        public init(
            built: @escaping @Sendable (String, SnapshotBuilder.Outcome) -> Void = { _, _ in },
            pruned: @escaping @Sendable (PruneOutcome) -> Void = { _ in },
            sizes: @escaping @Sendable ([SpaceLogSize]) -> Void = { _ in }
        ) {
            self.built = built
            self.pruned = pruned
            self.sizes = sizes
        }
    }

    private let store: any SnapshotStore
    private let policy: SnapshotPolicy
    private let wallClock: WallClock
    private let clock: any Clock<Duration>
    private let observer: Observer
    private let logger: Logger

    /// Creates the service.
    /// - Parameters:
    ///   - wallClock: Commit and supersede times.
    ///   - clock: Measures the pause between rounds.
    public init(
        store: any SnapshotStore,
        policy: SnapshotPolicy,
        wallClock: WallClock = .system,
        clock: any Clock<Duration> = ContinuousClock(),
        observer: Observer = Observer(),
        logger: Logger
    ) {
        self.store = store
        self.policy = policy
        self.wallClock = wallClock
        self.clock = clock
        self.observer = observer
        self.logger = logger
    }

    public func run() async throws {
        // A graceful shutdown cancels the pause between rounds: that is the normal end.
        do {
            try await cancelWhenGracefulShutdown {
                // Collection is a write: once a minute is enough (or once per keep time, if shorter).
                let collectEvery = min(Duration.seconds(60), policy.keep)
                var sinceCollection = collectEvery
                while !Task.isCancelled {
                    let collect = sinceCollection >= collectEvery
                    await round(collecting: collect)
                    sinceCollection = collect ? .zero : sinceCollection + policy.interval
                    try await clock.sleep(for: policy.interval)
                }
            }
        } catch is CancellationError {
            return
        }
    }

    /// One round over every space; a failure is logged and the round goes on with the next
    /// space (the next round retries). `collecting`: also collect old manifests and chunks.
    public func round(collecting: Bool = true) async {
        let sizes: [SpaceLogSize]
        do {
            sizes = try await store.logSizes()
        } catch {
            logger.warning("snapshots: cannot list the spaces", metadata: ["error": "\(error)"])
            return
        }
        let builder = SnapshotBuilder(store: store, policy: policy, clock: wallClock)
        for size in sizes {
            guard !Task.isCancelled else { return }
            do {
                if let every = policy.every, size.headSeq - size.snapshotSeq >= every,
                    let outcome = try await builder.build(space: size.space)
                {
                    observer.built(size.space, outcome)
                    logger.info(
                        "snapshot built",
                        metadata: [
                            "ferry.space": "\(size.space)", "snapshot_seq": "\(outcome.manifest.snapshotSeq)",
                            "chunks": "\(outcome.manifest.chunks.count)", "shared": "\(outcome.chunksShared)",
                        ]
                    )
                }
                if policy.retains, let floor = try await retentionFloor(of: size.space), floor > size.floorSeq {
                    let outcome = try await store.prune(space: size.space, through: floor, dryRun: false)
                    if outcome.mutationsDeleted > 0 { observer.pruned(outcome) }
                }
            } catch {
                logger.warning("snapshots: a round failed for a space", metadata: ["ferry.space": "\(size.space)", "error": "\(error)"])
            }
        }
        do {
            if collecting {
                let keepFrom = wallClock.nowMilliseconds() - Int64(policy.keep.components.seconds * 1000)
                _ = try await store.collectSnapshots(supersededBefore: keepFrom)
            }
            observer.sizes(try await store.logSizes())
        } catch {
            logger.warning("snapshots: collection failed", metadata: ["error": "\(error)"])
        }
    }

    /// The floor the retention settings allow for `space` (the store clamps it to the newest
    /// snapshot): mutations must be both older than the count kept and older than the age kept.
    public func retentionFloor(of space: String) async throws -> Int64? {
        try await Self.retentionFloor(of: space, store: store, policy: policy, now: wallClock.nowMilliseconds())
    }

    /// The floor `policy`'s retention allows for `space` at `now`; `nil` when it retains nothing.
    public static func retentionFloor(of space: String, store: any SnapshotStore, policy: SnapshotPolicy, now: Int64) async throws -> Int64?
    {
        guard policy.retains else { return nil }
        let status = try await store.snapshotStatus(space: space)
        var floor = status.headSeq
        if let count = policy.retainMutations { floor = min(floor, status.headSeq - max(0, count)) }
        if let age = policy.retainAge {
            let milliseconds = age.components.seconds * 1000 + age.components.attoseconds / 1_000_000_000_000_000
            floor = min(floor, try await store.seqCommitted(space: space, atOrBefore: now - milliseconds))
        }
        return max(0, floor)
    }
}
