import ArgumentParser
import FerryClient
import FerryCore
import FerryHTTP
import Foundation
import GRDB
import Logging

/// `ferry bench-client` (hidden): the client side of the `sync` and `backlog` workloads, run
/// by `ferry bench` as a child process so that the peak memory it reports is the client's own.
///
/// Opens (or creates) the device's database with an `items` table, registers it, runs one
/// full sync (push, then pull and apply page by page) and prints one JSON line: rows applied,
/// seconds, peak resident memory, and the resident memory sampled during the sync.
struct BenchClient: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-client",
        abstract: "The client side of ferry bench's sync and backlog workloads (internal).",
        shouldDisplay: false
    )

    @Option(name: .long, help: "The server's URL.")
    var server: String

    @Option(name: .long, help: "The access token (default: env FERRY_BENCH_TOKEN).")
    var token: String?

    @Option(name: .long, help: "The space to sync.")
    var space: String

    @Option(name: .long, help: "The device's SQLite database (created when absent).")
    var db: String

    @Option(name: .long, help: "The rows the items table must hold after the sync.")
    var expect: Int?

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let baseline = ProcessMemory.residentMB() ?? 0
        let pool = try DatabasePool(path: db)
        try await pool.write { db in
            if try !db.tableExists("items") { try db.execute(sql: BenchRecords.createTableSQL) }
        }
        let store = try LocalStore(pool)
        try store.register(table: BenchRecords.entity)
        guard let token = token ?? Environment.value("FERRY_BENCH_TOKEN") else {
            throw ValidationError("bench-client needs --token or FERRY_BENCH_TOKEN")
        }
        let transport = HTTPTransport(configuration: HTTPTransportConfiguration(baseURL: server, accessToken: token))
        let engine = SyncEngine(store: store, transport: transport, space: space)
        let opened = ProcessMemory.residentMB() ?? 0

        let sampler = RSSSampler(every: .milliseconds(100))
        let start = ContinuousClock.now
        let report: SyncEngine.Report
        do {
            report = try await engine.sync()
        } catch {
            _ = await sampler.stop()
            try? await transport.shutdown()
            throw error
        }
        let elapsed = (ContinuousClock.now - start).seconds
        let taken = await sampler.stop()
        let peak = ProcessMemory.peakResidentMB() ?? 0
        try await transport.shutdown()

        let rows = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM items") ?? 0 }
        if let expect, rows != expect {
            throw BenchError("bench-client: the items table holds \(rows) rows after the sync, expected \(expect)")
        }
        func largest(from: Double, to: Double) -> Double {
            taken.filter { $0.0 >= from * elapsed && $0.0 <= to * elapsed }.map(\.1).max() ?? 0
        }
        try pool.close()
        let line = JSONValue.object([
            "applied": .int(Int64(report.pulled)),
            "rows": .int(Int64(rows)),
            "seconds": .double(elapsed),
            "peak_rss_mb": .double(peak),
            "baseline_rss_mb": .double(baseline),
            "opened_rss_mb": .double(opened),
            "rss_first_quarter_mb": .double(largest(from: 0, to: 0.25)),
            "rss_last_quarter_mb": .double(largest(from: 0.75, to: 1)),
        ])
        print(line.line)
    }
}
