import FerryCore
import FerryHTTP
import FerryLog
import Foundation
import Synchronization

extension BenchRunner {
    /// Lines per bulk chunk of the `bulk` workload.
    static let bulkChunkLines = 10_000

    /// `bulk`: B mutations (the backlog size) uploaded as bulk chunks of 10,000 lines
    /// (`POST /sync/push`), two chunks in flight; mutations per second, the encoding of the
    /// chunks included. Ceiling: raw inserts of the same rows into the server's mutation table
    /// (SQLite in one transaction, or PostgreSQL multi-row inserts), as for push.
    func runBulk() async throws {
        let count = plan.backlog
        try await withServer("bulk", spaces: ["bulk"]) { server in
            let space = server.space("bulk")
            var rates: [Double] = []
            var ceilingRates: [Double] = []
            let retriesBefore = Self.pushRetries.load(ordering: .relaxed)
            try await withTransport(server) { transport in
                for round in 1...plan.backlogRounds {
                    if let postgres = server.postgres {
                        progress.show("bulk: ceiling, raw PostgreSQL insert of \(count) rows (round \(round))")
                        ceilingRates.append(try await BenchPostgres.insertCeiling(url: postgres.url, count: count, batch: 1000))
                    } else {
                        progress.show("bulk: ceiling, raw SQLite insert of \(count) rows (round \(round))")
                        ceilingRates.append(try BenchCeilings.sqliteLogInsert(count: count, folder: root, durability: durability))
                    }
                    progress.show("bulk: \(count) mutations in chunks of \(Self.bulkChunkLines), round \(round)/\(plan.backlogRounds)")
                    let range = freshRecords(count)
                    let parts = BenchRecords.batches(range, size: Self.bulkChunkLines)
                    let device = "bulk-r\(round)"
                    let elapsed = try await ContinuousClock().measure {
                        try await withThrowingTaskGroup(of: Int.self) { group in
                            var next = 0
                            var stored = 0
                            func upload(_ part: Range<Int>) {
                                group.addTask {
                                    let body = BulkPushRequest.body(of: BenchRecords.inputs(part))
                                    let request = BulkPushRequest(
                                        space: space,
                                        deviceID: device,
                                        sessionID: "import",
                                        body: body,
                                        chunkID: SnapshotChunker.chunkID(of: body)
                                    )
                                    let response = try await Self.bulkPushRetrying(request, through: transport)
                                    let duplicates = response.rejected.filter { $0.reason == .duplicate }.count
                                    guard response.accepted + duplicates == part.count else {
                                        throw BenchError(
                                            "bulk: the server stored \(response.accepted) of \(part.count): \(response.rejected.prefix(3))"
                                        )
                                    }
                                    return part.count
                                }
                            }
                            while next < min(2, parts.count) {
                                upload(parts[next])
                                next += 1
                            }
                            while let done = try await group.next() {
                                stored += done
                                if next < parts.count {
                                    upload(parts[next])
                                    next += 1
                                }
                            }
                            guard stored == count else { throw BenchError("bulk: \(stored) of \(count) stored") }
                        }
                    }
                    rates.append(Double(count) / elapsed.seconds)
                }
            }
            let postgres = server.postgres != nil
            let ceiling = BenchCeiling(
                name: postgres ? "pg_insert_log" : "sqlite_insert_log",
                label: postgres
                    ? "raw PostgreSQL multi-row insert per batch, server's mutation table" : "raw SQLite insert, server's mutation table",
                stats: BenchStats(ceilingRates),
                unit: "rows/s"
            )
            record(ceiling)
            let stats = BenchStats(rates)
            let ratio = stats.median / ceiling.stats.median
            var result = BenchResult(
                workload: "bulk",
                store: storeName,
                clients: 1,
                stats: stats,
                unit: "mutations/s",
                ceiling: ceiling,
                extra: [("mutations", Double(count)), ("chunk_lines", Double(Self.bulkChunkLines))],
                target: ("≥ 0.5 of the ceiling", ratio >= 0.5)
            )
            let retries = Self.pushRetries.load(ordering: .relaxed) - retriesBefore
            if retries > 0 { result.extra.append(("retries", Double(retries))) }
            record(result)
        }
    }

    /// Uploads a bulk chunk, sending it again after a transient failure as a client does.
    private static func bulkPushRetrying(_ request: BulkPushRequest, through transport: HTTPTransport) async throws -> PushResponse {
        var attempt = 1
        while true {
            do {
                return try await transport.bulkPush(request)
            } catch let error as SyncTransportError where error.kind == .transient && attempt < 9 {
                pushRetries.add(1, ordering: .relaxed)
                FileHandle.standardError.write(Data("\nferry bench: bulk push failed (\(error.message)); sending it again\n".utf8))
                try await Task.sleep(for: .milliseconds(min(4000, 250 << (attempt - 1))))
                attempt += 1
            }
        }
    }
}
