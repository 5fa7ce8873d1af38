import FerryClient
import FerryCore
import FerryHTTP
import Foundation
import GRDB

extension BenchRunner {
    /// `latency`: device A writes one record into its tracked table and pushes it while
    /// device B runs a live `SyncManager`; the time from A's write to the commit of B's
    /// applied row, p50, p99 and max. Floor: an empty pull's round trip to the same server.
    func runLatency() async throws {
        try await withServer("latency", spaces: ["latency"]) { server in
            try await withTransport(server) { floorTransport in
                let space = server.space("latency")
                let folder = root.appendingPathComponent("latency")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: folder) }

                let (poolA, storeA) = try await Self.openDevice(folder.appendingPathComponent("a.sqlite"))
                let (poolB, storeB) = try await Self.openDevice(folder.appendingPathComponent("b.sqlite"))
                let signal = CommitSignal(table: BenchRecords.entity)
                poolB.add(transactionObserver: signal, extent: .observerLifetime)

                let configuration = HTTPTransportConfiguration(baseURL: server.baseURL, accessToken: server.token)
                let transportA = HTTPTransport(configuration: configuration)
                let transportB = HTTPTransport(configuration: configuration)
                let engineA = SyncEngine(store: storeA, transport: transportA, space: space)
                let managerB = SyncManager(
                    engine: SyncEngine(store: storeB, transport: transportB, space: space),
                    schedule: SyncSchedule(debounce: .zero, live: true),
                    clock: ContinuousClock()
                )
                let runB = Task { try await managerB.run() }

                var samples: [Double] = []
                var acknowledged: [Double] = []
                do {
                    let head = try await head(server, space: space, transport: floorTransport)
                    progress.show("latency: floor, empty pull round trips")
                    var floor: [Double] = []
                    for _ in 0..<200 {
                        let elapsed = try await ContinuousClock().measure {
                            _ = try await floorTransport.pull(space: space, since: head, limit: 1, excludeDevice: nil, wait: nil)
                        }
                        floor.append(elapsed.milliseconds)
                    }
                    let warmUp = 20
                    let records = freshRecords(plan.latencyWrites + warmUp)
                    for (position, index) in records.enumerated() {
                        if position % 50 == 0 {
                            progress.show("latency: write \(max(0, position - warmUp))/\(plan.latencyWrites) from A, applied on B")
                        }
                        signal.reset()
                        let (title, body) = BenchRecords.text(index)
                        let written = ContinuousClock.now
                        try await poolA.write { db in
                            try db.execute(
                                sql: "INSERT INTO items (id, title, body, n, done) VALUES (?, ?, ?, ?, 0)",
                                arguments: [BenchRecords.key(index), title, body, index]
                            )
                        }
                        var report = SyncEngine.Report()
                        try await engineA.push(into: &report)
                        let pushed = ContinuousClock.now
                        let applied = try await signal.next(timeout: .seconds(30))
                        if position >= warmUp {
                            samples.append((applied - written).milliseconds)
                            acknowledged.append((pushed - written).milliseconds)
                        }
                        // Let B hold its long-poll again, as a device in live mode does between writes.
                        try await Task.sleep(for: .milliseconds(5))
                    }
                    let rows = try await poolB.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM items") ?? 0 }
                    guard rows == records.count else { throw BenchError("latency: B holds \(rows) rows of \(records.count)") }

                    let floorCeiling = BenchCeiling(
                        name: "http_round_trip",
                        label: "p50 of an empty pull's round trip (floor)",
                        stats: BenchStats(
                            median: BenchStats.quantile(0.5, of: floor),
                            min: floor.min() ?? .nan,
                            max: floor.max() ?? .nan,
                            count: 1
                        ),
                        unit: "ms"
                    )
                    record(floorCeiling)
                    let p50 = BenchStats.quantile(0.5, of: samples)
                    let p99 = BenchStats.quantile(0.99, of: samples)
                    let worst = samples.max() ?? .nan
                    record(
                        BenchResult(
                            workload: "latency",
                            store: storeName,
                            clients: 2,
                            stats: BenchStats(median: p50, min: samples.min() ?? .nan, max: worst, count: 1),
                            unit: "ms",
                            ceiling: floorCeiling,
                            extra: [
                                ("p50", p50), ("p99", p99), ("max", worst), ("writes", Double(samples.count)),
                                // Where the time goes: A's write and push until the server's answer.
                                ("push_acked_p50", BenchStats.quantile(0.5, of: acknowledged)),
                            ],
                            target: ("p50 < 5 ms, p99 < 25 ms", p50 < 5 && p99 < 25)
                        )
                    )
                } catch {
                    runB.cancel()
                    _ = try? await runB.value
                    try? await transportA.shutdown()
                    try? await transportB.shutdown()
                    throw error
                }
                runB.cancel()
                _ = try? await runB.value
                try? await transportA.shutdown()
                try? await transportB.shutdown()
                try? poolA.close()
                try? poolB.close()
            }
        }
    }

    /// A device: a new database with the `items` table, registered in a local store.
    static func openDevice(_ url: URL) async throws -> (DatabasePool, LocalStore) {
        let pool = try DatabasePool(path: url.path)
        try await pool.write { db in try db.execute(sql: BenchRecords.createTableSQL) }
        let store = try LocalStore(pool)
        try store.register(table: BenchRecords.entity)
        return (pool, store)
    }
}
