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
/// A round looks only at the spaces written since the previous one
/// (``SnapshotStore/takeWrittenSpaces()``), since only a write moves a head or a count-based
/// retention floor; once a minute (``sweepInterval``), and on the first round, it looks at
/// every space, for the age-based retention of spaces nobody writes to and for anything a
/// failed round left. So a server holding many spaces reads one row per written space every
/// second, not one per space.
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
        /// The log sizes at the end of a round: of every space when the round swept them all
        /// (`true`), else of the spaces it looked at (`false`).
        public var sizes: @Sendable ([SpaceLogSize], Bool) -> Void

        /// Creates an observer.
        public init(
            built: @escaping @Sendable (String, SnapshotBuilder.Outcome) -> Void = { _, _ in },
            pruned: @escaping @Sendable (PruneOutcome) -> Void = { _ in },
            sizes: @escaping @Sendable ([SpaceLogSize], Bool) -> Void = { _, _ in }
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
                let collectEvery = min(Self.sweepInterval, policy.keep)
                var sinceCollection = collectEvery
                var sinceSweep = Self.sweepInterval
                while !Task.isCancelled {
                    let collect = sinceCollection >= collectEvery
                    let sweep = sinceSweep >= Self.sweepInterval
                    await round(collecting: collect, sweeping: sweep)
                    sinceCollection = collect ? .zero : sinceCollection + policy.interval
                    sinceSweep = sweep ? .zero : sinceSweep + policy.interval
                    try await clock.sleep(for: policy.interval)
                }
            }
        } catch is CancellationError {
            return
        }
    }

    /// How often a round looks at every space rather than at the written ones: a minute.
    public static let sweepInterval = Duration.seconds(60)

    /// One round; a failure is logged and the round goes on with the next space (the next
    /// sweep retries). `collecting`: also collect old manifests and chunks. `sweeping`: look
    /// at every space; otherwise only at those written since the previous round (at every
    /// space when the store cannot tell).
    public func round(collecting: Bool = true, sweeping: Bool = true) async {
        // Taken before the sizes are read, so that a write during the round is in the next.
        let written = store.takeWrittenSpaces()
        let complete = sweeping || written == nil
        let sizes: [SpaceLogSize]
        do {
            sizes = try await complete ? store.logSizes() : store.logSizes(of: written ?? [])
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
            if complete {
                observer.sizes(try await store.logSizes(), true)
            } else if !sizes.isEmpty {
                observer.sizes(try await store.logSizes(of: Set(sizes.map(\.space))), false)
            }
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
