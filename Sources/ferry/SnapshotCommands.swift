import ArgumentParser
import FerryCore
import FerryServer
import Foundation
import Logging

/// Opens the storage the options choose, for a command that works on the logs beside a
/// running server (SQLite or PostgreSQL; a memory log lives only in its server's process).
private func withSnapshotStore<T: Sendable>(
    _ storage: StorageOptions,
    _ body: @escaping @Sendable (any SnapshotStore) async throws -> T
) async throws -> T {
    var logger = Logger(label: "ferry")
    logger.logLevel = .error
    let opened = try FerryStorage(storage.configuration(), logger: logger)
    guard let store = opened.eventLog as? any SnapshotStore else {
        throw ValidationError("this storage keeps no snapshots")
    }
    return try await opened.whileRunning { try await body(store) }
}

struct Snapshot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build and publish a space's snapshot now.",
        discussion: """
            A server builds snapshots in the background (--snapshot-every); this builds one at
            the space's head at once, from the previous snapshot's state and the mutations after
            it. Safe beside running servers: only one of several builders publishes.
            """
    )

    @OptionGroup var storage: StorageOptions

    @Option(name: .long, help: "The space.")
    var space: String

    @Option(name: .long, help: "Most records in one chunk (default 10000).")
    var chunkRecords: Int = SnapshotPolicy().chunkRecords

    @Option(name: .long, help: "Most bytes in one chunk (default 4194304).")
    var chunkBytes: Int = SnapshotPolicy().chunkBytes

    @Flag(name: .long, help: "Print the outcome as one JSON object.")
    var json = false

    func validate() throws {
        guard ProtocolRules.isValidSpace(space) else { throw ValidationError("'\(space)' is not a space name") }
        guard chunkRecords > 0, chunkBytes > 0 else { throw ValidationError("the chunk limits must be positive") }
    }

    func run() async throws {
        let policy = SnapshotPolicy(chunkRecords: chunkRecords, chunkBytes: chunkBytes)
        let space = self.space
        let started = ContinuousClock.now
        let outcome = try await withSnapshotStore(storage) { store in
            try await SnapshotBuilder(store: store, policy: policy).build(space: space)
        }
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        guard let outcome else {
            if json {
                try printJSON(["space": space, "built": "false"])
            } else {
                print("space '\(space)': the newest snapshot is at the head already, or the space has no log")
            }
            return
        }
        let manifest = outcome.manifest
        if json {
            try printJSON(
                SnapshotReport(
                    space: space,
                    snapshotSeq: manifest.snapshotSeq,
                    chunks: manifest.chunks.count,
                    chunksShared: outcome.chunksShared,
                    records: manifest.records,
                    bytes: manifest.bytes,
                    mutationsApplied: outcome.mutationsApplied,
                    seconds: seconds
                )
            )
        } else {
            print(
                """
                space '\(space)': snapshot at seq \(manifest.snapshotSeq) published in \(String(format: "%.2f", seconds)) s
                  records: \(manifest.records) in \(manifest.chunks.count) chunks (\(manifest.bytes) bytes), \(outcome.chunksShared) shared with the previous snapshot
                  mutations applied to the state: \(outcome.mutationsApplied)
                """
            )
        }
    }

    struct SnapshotReport: Encodable {
        var space: String
        var snapshotSeq: Int64
        var chunks: Int
        var chunksShared: Int
        var records: Int
        var bytes: Int
        var mutationsApplied: Int
        var seconds: Double

        enum CodingKeys: String, CodingKey {
            case space, chunks, records, bytes, seconds
            case snapshotSeq = "snapshot_seq"
            case chunksShared = "chunks_shared"
            case mutationsApplied = "mutations_applied"
        }
    }
}

struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete a space's oldest mutations that its newest snapshot covers (dry run unless --apply).",
        discussion: """
            The floor goes to --through, or to what --retain-mutations / --retain-age keep, and
            never above the newest snapshot. The dedup triples of deleted mutations are kept, so
            a retried push still gets its first seq. Devices below the floor get 410
            history_pruned and bootstrap from the snapshot.
            """
    )

    @OptionGroup var storage: StorageOptions

    @Option(name: .long, help: "The space.")
    var space: String

    @Option(name: .long, help: "Delete the mutations up to this seq.")
    var through: Int64?

    @Option(name: .long, help: "Keep at least this many newest mutations.")
    var retainMutations: Int?

    @Option(name: .long, help: "Keep the mutations of at least this long: 90s, 30m, 1h, 7d.")
    var retainAge: String?

    @Flag(name: .long, help: "Delete; without it, only say what would go.")
    var apply = false

    @Flag(name: .long, help: "Print the outcome as one JSON object.")
    var json = false

    func validate() throws {
        guard ProtocolRules.isValidSpace(space) else { throw ValidationError("'\(space)' is not a space name") }
        guard (through != nil) != (retainMutations != nil || retainAge != nil) else {
            throw ValidationError("give --through, or --retain-mutations and/or --retain-age")
        }
        if let through, through < 0 { throw ValidationError("--through must not be negative") }
        _ = try policy()
    }

    private func policy() throws -> SnapshotPolicy {
        do {
            return try FerryEnvironment([:]).snapshotPolicy(retainMutations: retainMutations, retainAge: retainAge)
        } catch let error as ConfigurationError {
            throw ValidationError(error.message)
        }
    }

    func run() async throws {
        let (space, through, apply) = (self.space, self.through, self.apply)
        let policy = try self.policy()
        let outcome = try await withSnapshotStore(storage) { store in
            let now = WallClock.system.nowMilliseconds()
            var floor = through
            if floor == nil { floor = try await SnapshotService.retentionFloor(of: space, store: store, policy: policy, now: now) }
            guard let floor else {
                return PruneOutcome(space: space, floorBefore: 0, floorAfter: 0, mutationsDeleted: 0, tripleRuns: 0)
            }
            return try await store.prune(space: space, through: floor, dryRun: !apply)
        }
        if json {
            try printJSON(PruneReport(outcome, applied: apply))
            return
        }
        let target = outcome.floorBefore + outcome.mutationsDeleted
        if outcome.mutationsDeleted == 0 {
            print("space '\(space)': nothing to prune (floor \(outcome.floorBefore); the floor never goes above the newest snapshot)")
        } else if apply {
            print(
                "space '\(space)': deleted \(outcome.mutationsDeleted) mutations (seq \(outcome.floorBefore + 1)…\(target)); floor now \(outcome.floorAfter), \(outcome.tripleRuns) runs of dedup triples kept"
            )
        } else {
            print(
                "space '\(space)': would delete \(outcome.mutationsDeleted) mutations (seq \(outcome.floorBefore + 1)…\(target)), moving the floor from \(outcome.floorBefore) to \(target). Run again with --apply to delete."
            )
        }
    }

    struct PruneReport: Encodable {
        var space: String
        var applied: Bool
        var floorBefore: Int64
        var floorAfter: Int64
        var mutations: Int64

        init(_ outcome: PruneOutcome, applied: Bool) {
            space = outcome.space
            self.applied = applied
            floorBefore = outcome.floorBefore
            floorAfter = applied ? outcome.floorAfter : outcome.floorBefore + outcome.mutationsDeleted
            mutations = outcome.mutationsDeleted
        }

        enum CodingKeys: String, CodingKey {
            case space, applied, mutations
            case floorBefore = "floor_before"
            case floorAfter = "floor_after"
        }
    }
}
