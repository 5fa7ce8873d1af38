import FerryCore
import FerryHTTP
import Foundation

extension BenchRunner {
    /// What one `ferry snapshot` child did.
    struct SnapshotBuild {
        var seconds: Double
        var peakRSS: Double
        var chunks: Double
        var shared: Double
        var records: Double
    }

    /// Runs `ferry snapshot --json` on the store of `server` (SQLite data folder or
    /// PostgreSQL database) and answers its report with its peak resident memory.
    func buildSnapshot(_ server: BenchServer, space: String) async throws -> SnapshotBuild {
        var arguments = ["snapshot", "--space", space, "--json"]
        if let postgres = server.postgres {
            arguments += ["--postgres", postgres.url]
        } else if let folder = server.dataFolder {
            arguments += ["--data", folder.path]
        } else {
            throw BenchError("bootstrap: ferry snapshot needs the SQLite or PostgreSQL store (not --memory or --server)")
        }
        let report = try await ChildReport.run(plan.ferry, arguments, sampling: true)
        let number = report.number
        return SnapshotBuild(
            seconds: number("seconds"),
            peakRSS: report.peakRSS,
            chunks: number("chunks"),
            shared: number("chunks_shared"),
            records: number("records")
        )
    }

    /// Writes the records `indexes` again (new triples, so each is a new version with a new
    /// seq) from one device, in batches.
    private func rewrite(_ server: BenchServer, space: String, indexes: [Int], tag: String) async throws {
        try await withTransport(server) { transport in
            var id: Int64 = 0
            for start in stride(from: 0, to: indexes.count, by: plan.batchSize) {
                let mutations = indexes[start..<min(indexes.count, start + plan.batchSize)].flatMap { index in
                    BenchRecords.inputs(index..<(index + 1)).map { input in
                        var input = input
                        id += 1
                        input.clientActionID = id
                        return input
                    }
                }
                _ = try await transport.push(PushRequest(space: space, deviceID: "rewrite-\(tag)", sessionID: "s", mutations: mutations))
            }
        }
    }

    /// `bootstrap`: a space of B records (the backlog size). The snapshot is built by a
    /// `ferry snapshot` child (time and peak memory); then 1 % of the records change, spread
    /// over all keys, and again in one run of neighbouring keys, each followed by a new
    /// snapshot, to count the chunks the consecutive snapshots share. A new device then takes
    /// the space twice, in a child process: from the snapshot (chunks, then a pull from its
    /// seq) and by replaying the log; records per second of each and the client's peak memory.
    func runBootstrap() async throws {
        let count = plan.backlog
        switch target {
        case .local(.sqlite), .local(.postgres): break
        default:
            // The snapshot is built by `ferry snapshot`, which opens the store itself.
            FileHandle.standardError.write(Data("ferry bench: bootstrap runs on the sqlite and postgres stores only; skipped\n".utf8))
            return
        }
        try await withServer("bootstrap", spaces: ["bootstrap"]) { server in
            let space = server.space("bootstrap")
            progress.show("bootstrap: writing \(count) records")
            let range = freshRecords(count)
            try await fill(server, space: space, range: range, tag: "bootstrap-writer")
            progress.show("bootstrap: building the snapshot of \(count) records")
            let first = try await buildSnapshot(server, space: space)
            guard Int(first.records) == count else {
                throw BenchError("bootstrap: the snapshot holds \(first.records) records, not \(count)")
            }

            let changed = max(1, count / 100)
            var random = SystemRandomNumberGenerator()
            let spread = (0..<changed).map { _ in Int.random(in: range, using: &random) }
            progress.show("bootstrap: \(changed) records (1 %) change, spread over all keys")
            try await rewrite(server, space: space, indexes: Array(Set(spread)).sorted(), tag: "spread")
            let afterSpread = try await buildSnapshot(server, space: space)
            progress.show("bootstrap: \(changed) records (1 %) change, neighbouring keys")
            let start = range.lowerBound + count / 2
            try await rewrite(server, space: space, indexes: Array(start..<min(range.upperBound, start + changed)), tag: "run")
            let afterRun = try await buildSnapshot(server, space: space)

            var snapshotRates: [Double] = []
            var replayRates: [Double] = []
            var snapshotPeak = 0.0
            var replayPeak = 0.0
            for round in 1...plan.backlogRounds {
                progress.show("bootstrap: a new device takes \(count) records from the snapshot (round \(round))")
                let db = root.appendingPathComponent("bootstrap-device-\(round).sqlite")
                let fromSnapshot = try await runClient(server, space: space, db: db, expect: count, extra: ["--bootstrap-threshold", "0"])
                Self.removeDatabase(db)
                snapshotRates.append(fromSnapshot.rows / fromSnapshot.seconds)
                snapshotPeak = max(snapshotPeak, fromSnapshot.peakRSS)
                progress.show("bootstrap: a new device replays the log of \(count) records (round \(round))")
                let replay = try await runClient(
                    server,
                    space: space,
                    db: db,
                    expect: count,
                    extra: ["--bootstrap-threshold", String(Int64.max)]
                )
                Self.removeDatabase(db)
                replayRates.append(replay.rows / replay.seconds)
                replayPeak = max(replayPeak, replay.peakRSS)
            }
            let replayStats = BenchStats(replayRates)
            let ceiling = BenchCeiling(
                name: "replay_\(storeName)",
                label: "a new device replaying the whole log (pull), same run",
                stats: replayStats,
                unit: "records/s"
            )
            record(ceiling)
            let stats = BenchStats(snapshotRates)
            let speedup = stats.median / replayStats.median
            let goal = speedup >= 3 && stats.median >= 200_000 && first.seconds < 10 && first.peakRSS < 200
            record(
                BenchResult(
                    workload: "bootstrap",
                    store: storeName,
                    clients: 1,
                    stats: stats,
                    unit: "records/s",
                    ceiling: ceiling,
                    extra: [
                        ("speedup_vs_replay", speedup), ("client_peak_rss_mb", snapshotPeak), ("replay_client_peak_rss_mb", replayPeak),
                        ("build_seconds", first.seconds), ("build_peak_rss_mb", first.peakRSS), ("chunks", first.chunks),
                        ("shared_after_1pct_spread", afterSpread.shared), ("chunks_after_1pct_spread", afterSpread.chunks),
                        ("shared_after_1pct_run", afterRun.shared), ("chunks_after_1pct_run", afterRun.chunks),
                        ("rebuild_seconds", afterSpread.seconds),
                    ],
                    target: ("≥ 3× replay and ≥ 200,000/s; build < 10 s and < 200 MB", goal)
                )
            )
        }
    }
}
