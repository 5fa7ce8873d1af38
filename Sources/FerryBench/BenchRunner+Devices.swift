import FerryCore
import Foundation

extension BenchRunner {
    /// What a `ferry bench-client` child reported.
    struct ClientReport {
        var rows: Double
        var applied: Double
        var seconds: Double
        var peakRSS: Double
        var baselineRSS: Double
        var firstQuarterRSS: Double
        var lastQuarterRSS: Double
    }

    /// Runs `ferry bench-client` on the device database `db` against `space` of `server`
    /// and answers what it reports.
    func runClient(_ server: BenchServer, space: String, db: URL, expect: Int?, extra: [String] = []) async throws -> ClientReport {
        var arguments = [
            "bench-client", "--server", server.baseURL, "--space", space, "--db", db.path, "--compression", plan.compression.rawValue,
        ]
        if let expect { arguments += ["--expect", "\(expect)"] }
        arguments += extra
        // The token goes through the environment, where other users' `ps` does not show it.
        let report = try await ChildReport.run(plan.ferry, arguments, environment: ["FERRY_BENCH_TOKEN": server.token])
        let number = report.number
        return ClientReport(
            rows: number("rows"),
            applied: number("applied"),
            seconds: number("seconds"),
            peakRSS: number("peak_rss_mb"),
            baselineRSS: number("baseline_rss_mb"),
            firstQuarterRSS: number("rss_first_quarter_mb"),
            lastQuarterRSS: number("rss_last_quarter_mb")
        )
    }

    /// `sync`: a new device syncs a space of N records into its local store from zero, in a
    /// child process; rows per second and the child's peak memory. Ceiling: raw SQLite inserts
    /// of the same rows into the client's table.
    func runSync() async throws {
        try await withServer("sync", spaces: ["sync"]) { server in
            let space = server.space("sync")
            progress.show("sync: writing \(plan.count) records")
            try await fill(server, space: space, range: freshRecords(plan.count), tag: "sync-writer")
            let expect = server.fixedSpace == nil ? plan.count : nil
            var rates: [Double] = []
            var peaks: [Double] = []
            var ceilingRates: [Double] = []
            for round in 1...plan.rounds {
                progress.show("sync: ceiling, raw SQLite insert of \(plan.count) rows (round \(round))")
                ceilingRates.append(try BenchCeilings.sqliteRowInsert(count: plan.count, folder: root))
                progress.show("sync: a new device syncs \(plan.count) records, round \(round)/\(plan.rounds)")
                let db = root.appendingPathComponent("sync-device-\(round).sqlite")
                let report = try await runClient(server, space: space, db: db, expect: expect)
                Self.removeDatabase(db)
                rates.append(report.applied / report.seconds)
                peaks.append(report.peakRSS)
            }
            let ceiling = BenchCeiling(
                name: "sqlite_insert_rows",
                label: "raw SQLite insert, client's items table",
                stats: BenchStats(ceilingRates),
                unit: "rows/s"
            )
            record(ceiling)
            let stats = BenchStats(rates)
            record(
                BenchResult(
                    workload: "sync",
                    store: storeName,
                    clients: 1,
                    stats: stats,
                    unit: "rows/s",
                    ceiling: ceiling,
                    extra: [("peak_rss_mb", peaks.max() ?? .nan)],
                    target: ("≥ 100,000/s", stats.median >= 100_000)
                )
            )
        }
    }

    /// `backlog`: a device that synced a space goes offline while `backlog` mutations
    /// accumulate, then catches up (in a child process); time, rows per second and the
    /// child's peak memory, with its resident memory early and late in the catch-up to show
    /// whether it stays flat. Ceiling: raw SQLite inserts of the same rows.
    func runBacklog() async throws {
        try await withServer("backlog", spaces: ["backlog"]) { server in
            let space = server.space("backlog")
            let initial = min(1000, plan.backlog)
            progress.show("backlog: the device's first sync (\(initial) records)")
            try await fill(server, space: space, range: freshRecords(initial), tag: "backlog-writer")
            let template = root.appendingPathComponent("backlog-device.sqlite")
            _ = try await runClient(server, space: space, db: template, expect: server.fixedSpace == nil ? initial : nil)
            progress.show("backlog: \(plan.backlog) mutations accumulate while the device is offline")
            try await fill(server, space: space, range: freshRecords(plan.backlog), tag: "backlog-writer")
            let expect = server.fixedSpace == nil ? initial + plan.backlog : nil
            var rates: [Double] = []
            var times: [Double] = []
            var peaks: [Double] = []
            var early: [Double] = []
            var late: [Double] = []
            var ceilingRates: [Double] = []
            for round in 1...plan.backlogRounds {
                progress.show("backlog: ceiling, raw SQLite insert of \(plan.backlog) rows (round \(round))")
                ceilingRates.append(try BenchCeilings.sqliteRowInsert(count: plan.backlog, folder: root))
                progress.show("backlog: the device catches up \(plan.backlog) mutations, round \(round)/\(plan.backlogRounds)")
                // Every round starts from the same offline device: a copy of its database.
                let db = root.appendingPathComponent("backlog-device-\(round).sqlite")
                for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: template.path + suffix) {
                    try FileManager.default.copyItem(atPath: template.path + suffix, toPath: db.path + suffix)
                }
                let report = try await runClient(server, space: space, db: db, expect: expect)
                Self.removeDatabase(db)
                rates.append(report.applied / report.seconds)
                times.append(report.seconds)
                peaks.append(report.peakRSS)
                early.append(report.firstQuarterRSS)
                late.append(report.lastQuarterRSS)
            }
            Self.removeDatabase(template)
            let ceiling = BenchCeiling(
                name: "sqlite_insert_rows",
                label: "raw SQLite insert, client's items table",
                stats: BenchStats(ceilingRates),
                unit: "rows/s"
            )
            record(ceiling)
            let peak = peaks.max() ?? .nan
            record(
                BenchResult(
                    workload: "backlog",
                    store: storeName,
                    clients: 1,
                    stats: BenchStats(rates),
                    unit: "rows/s",
                    ceiling: ceiling,
                    extra: [
                        ("peak_rss_mb", peak), ("seconds", BenchStats(times).median),
                        ("rss_first_quarter_mb", early.max() ?? .nan), ("rss_last_quarter_mb", late.max() ?? .nan),
                        ("mutations", Double(plan.backlog)),
                    ],
                    target: ("peak RSS < 150 MB", peak < 150)
                )
            )
        }
    }

    static func removeDatabase(_ url: URL) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: url.path + suffix) }
    }
}
