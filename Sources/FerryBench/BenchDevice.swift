import FerryClient
import FerryCore
import FerryHTTP
import Foundation
import GRDB

/// The client side of the `sync` and `backlog` workloads, which `ferry bench-client` runs in
/// a child process so that the peak memory it reports is the client's own.
package enum BenchDevice {
    /// Opens (or creates) the device's database at `db` with an `items` table, registers it,
    /// runs one full sync with `space` of the server at `server` (push, then pull and apply
    /// page by page), and answers the report `ferry bench` reads: rows applied, seconds,
    /// peak resident memory, and the resident memory sampled during the sync. Throws when
    /// `expect` is given and the table holds another number of rows afterwards. `compression`
    /// is the transport's gzip setting (`ferry bench --compression`).
    package static func sync(
        server: String,
        token: String,
        space: String,
        db: String,
        expect: Int?,
        bootstrapThreshold: Int64 = 10_000,
        compression: HTTPTransportConfiguration.Compression = .automatic
    ) async throws -> JSONValue {
        let baseline = ProcessMemory.residentMB() ?? 0
        let pool = try DatabasePool(path: db)
        try await pool.write { db in
            if try !db.tableExists("items") { try db.execute(sql: BenchRecords.createTableSQL) }
        }
        let store = try LocalStore(pool)
        try store.register(table: BenchRecords.entity)
        let transport = HTTPTransport(
            configuration: HTTPTransportConfiguration(baseURL: server, accessToken: token, compression: compression)
        )
        let engine = SyncEngine(store: store, transport: transport, space: space, bootstrapThreshold: bootstrapThreshold)
        let opened = ProcessMemory.residentMB() ?? 0

        let sampled: (result: (SyncEngine.Report, Double), samples: [RSSSampler.Sample])
        do {
            sampled = try await RSSSampler.sampling(every: .milliseconds(100)) {
                let start = ContinuousClock.now
                let report = try await engine.sync()
                return (report, (ContinuousClock.now - start).seconds)
            }
        } catch {
            try? await transport.shutdown()
            throw error
        }
        let (report, elapsed) = sampled.result
        let peak = ProcessMemory.peakResidentMB() ?? 0
        try await transport.shutdown()

        let rows = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM items") ?? 0 }
        if let expect, rows != expect {
            throw BenchError("bench-client: the items table holds \(rows) rows after the sync, expected \(expect)")
        }
        func largest(from: Double, to: Double) -> Double {
            sampled.samples.filter { $0.seconds >= from * elapsed && $0.seconds <= to * elapsed }.map(\.megabytes).max() ?? 0
        }
        try pool.close()
        return .object([
            "applied": .int(Int64(report.pulled + report.bootstrapRecords)),
            "bootstrap_records": .int(Int64(report.bootstrapRecords)),
            "rows": .int(Int64(rows)),
            "seconds": .double(elapsed),
            "peak_rss_mb": .double(peak),
            "baseline_rss_mb": .double(baseline),
            "opened_rss_mb": .double(opened),
            "rss_first_quarter_mb": .double(largest(from: 0, to: 0.25)),
            "rss_last_quarter_mb": .double(largest(from: 0.75, to: 1)),
        ])
    }
}
