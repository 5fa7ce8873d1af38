import FerryClient
import FerryCore
import FerryHTTP
import Foundation
import GRDB

extension BenchRunner {
    /// `latency`: device A writes one record into its tracked table and pushes it while
    /// device B runs a live `SyncManager`; the time from A's write to the commit of B's
    /// applied row, p50, p99 and max. Floor: an empty pull's round trip to the same server.
    /// Then `latency_noticed`: A runs a live `SyncManager` with the default schedule too and
    /// only writes (no push, no `notifyDirty()`): the same time, which holds A's debounce.
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

                let configuration = HTTPTransportConfiguration(
                    baseURL: server.baseURL,
                    accessToken: server.token,
                    compression: plan.compression.transport
                )
                let transportA = HTTPTransport(configuration: configuration)
                let transportB = HTTPTransport(configuration: configuration)
                let engineA = SyncEngine(store: storeA, transport: transportA, space: space)
                let device = LatencyDevices(
                    poolA: poolA,
                    engineA: engineA,
                    managerA: SyncManager(engine: engineA, schedule: SyncSchedule(live: true), clock: ContinuousClock()),
                    poolB: poolB,
                    signal: signal,
                    managerB: SyncManager(
                        engine: SyncEngine(store: storeB, transport: transportB, space: space),
                        schedule: SyncSchedule(debounce: .zero, live: true),
                        clock: ContinuousClock()
                    )
                )
                let measured: Result<LatencySamples, any Error>
                do {
                    measured = .success(try await measureLatency(device, server: server, space: space, floorTransport: floorTransport))
                } catch {
                    measured = .failure(error)
                }
                try? await transportA.shutdown()
                try? await transportB.shutdown()
                try? poolA.close()
                try? poolB.close()
                recordLatency(try measured.get())
            }
        }
    }

    /// The two devices of the latency workload: A writes and pushes; B runs a live manager.
    struct LatencyDevices: Sendable {
        var poolA: DatabasePool
        var engineA: SyncEngine
        /// A's manager for the writes noticed without being told: the default schedule, live.
        var managerA: SyncManager<ContinuousClock>
        var poolB: DatabasePool
        var signal: CommitSignal
        var managerB: SyncManager<ContinuousClock>
    }

    /// What the latency workload measured, in milliseconds.
    struct LatencySamples {
        /// Empty pulls' round trips.
        var floor: [Double]
        /// From A's write to the commit of B's applied row.
        var applied: [Double]
        /// From A's write to the server's answer to A's push.
        var acknowledged: [Double]
        /// From A's write, noticed by A's manager, to the commit of B's applied row.
        var noticed: [Double] = []
        /// A manager's debounce in the noticed writes.
        var debounce: Double = 0
    }

    /// Runs B's manager in a child task while A writes the plan's records one by one (after
    /// a warm-up), each pushed at once, and times each until B commits it.
    private func measureLatency(
        _ device: LatencyDevices,
        server: BenchServer,
        space: String,
        floorTransport: HTTPTransport
    ) async throws -> LatencySamples {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await device.managerB.run() }
            defer { group.cancelAll() }
            var samples = LatencySamples(floor: [], applied: [], acknowledged: [])
            let head = try await head(server, space: space, transport: floorTransport)
            progress.show("latency: floor, empty pull round trips")
            for _ in 0..<200 {
                let elapsed = try await ContinuousClock().measure {
                    _ = try await floorTransport.pull(space: space, since: head, limit: 1, excludeDevice: nil, wait: nil)
                }
                samples.floor.append(elapsed.milliseconds)
            }
            let warmUp = 20
            let records = freshRecords(plan.latencyWrites + warmUp)
            for (position, index) in records.enumerated() {
                if position % 50 == 0 {
                    progress.show("latency: write \(max(0, position - warmUp))/\(plan.latencyWrites) from A, applied on B")
                }
                device.signal.reset()
                let written = ContinuousClock.now
                try await Self.insertItem(index, into: device.poolA)
                var report = SyncEngine.Report()
                try await device.engineA.push(into: &report)
                let pushed = ContinuousClock.now
                let applied = try await device.signal.next(timeout: .seconds(30))
                if position >= warmUp {
                    samples.applied.append((applied - written).milliseconds)
                    samples.acknowledged.append((pushed - written).milliseconds)
                }
                // Let B hold its long-poll again, as a device in live mode does between writes.
                try await Task.sleep(for: .milliseconds(5))
            }
            var rows = try await device.poolB.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM items") ?? 0 }
            guard rows == records.count else { throw BenchError("latency: B holds \(rows) rows of \(records.count)") }
            samples.debounce = SyncSchedule().debounce.milliseconds
            samples.noticed = try await measureNoticed(device, group: &group)
            rows = try await device.poolB.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM items") ?? 0 }
            guard rows == records.count + samples.noticed.count + 1 else {
                throw BenchError("latency: B holds \(rows) rows of \(records.count + samples.noticed.count + 1)")
            }
            return samples
        }
    }

    /// Starts A's manager and times writes A's app makes without telling it, each until B
    /// commits it: a warm-up write, then the plan's noticed writes.
    private func measureNoticed(
        _ device: LatencyDevices,
        group: inout ThrowingTaskGroup<Void, any Error>
    ) async throws -> [Double] {
        group.addTask { try await device.managerA.run() }
        for await status in device.managerA.statusUpdates() where status.lastSyncAt != nil { break }
        var noticed: [Double] = []
        let records = freshRecords(plan.noticedWrites + 1)
        for (position, index) in records.enumerated() {
            if position % 10 == 0 {
                progress.show("latency: noticed write \(max(0, position - 1))/\(plan.noticedWrites) from A, applied on B")
            }
            device.signal.reset()
            let written = ContinuousClock.now
            try await Self.insertItem(index, into: device.poolA)
            let applied = try await device.signal.next(timeout: .seconds(30))
            if position >= 1 { noticed.append((applied - written).milliseconds) }
            // Both devices hold their long-polls again before the next write, at a moment
            // that does not follow the last cycle's rhythm.
            try await Task.sleep(for: .milliseconds(20 + (index % 7) * 3))
        }
        return noticed
    }

    /// Records the latency result and its floor.
    private func recordLatency(_ samples: LatencySamples) {
        let floor = samples.floor
        let floorCeiling = Self.roundTripFloor(name: "http_round_trip", label: "p50 of an empty pull's round trip (floor)", floor)
        record(floorCeiling)
        let applied = samples.applied
        let p50 = BenchStats.quantile(0.5, of: applied)
        let p99 = BenchStats.quantile(0.99, of: applied)
        let worst = applied.max() ?? .nan
        record(
            BenchResult(
                workload: "latency",
                store: storeName,
                clients: 2,
                stats: BenchStats(median: p50, min: applied.min() ?? .nan, max: worst, count: 1),
                unit: "ms",
                ceiling: floorCeiling,
                extra: [
                    ("p50", p50), ("p99", p99), ("max", worst), ("writes", Double(applied.count)),
                    // Where the time goes: A's write and push until the server's answer.
                    ("push_acked_p50", BenchStats.quantile(0.5, of: samples.acknowledged)),
                ],
                target: ("p50 < 5 ms, p99 < 25 ms", p50 < 5 && p99 < 25)
            )
        )
        let noticed = samples.noticed
        let noticedP50 = BenchStats.quantile(0.5, of: noticed)
        let noticedWorst = noticed.max() ?? .nan
        let budget = samples.debounce + 50
        record(
            BenchResult(
                workload: "latency_noticed",
                store: storeName,
                clients: 2,
                stats: BenchStats(median: noticedP50, min: noticed.min() ?? .nan, max: noticedWorst, count: 1),
                unit: "ms",
                ceiling: floorCeiling,
                extra: [
                    ("p50", noticedP50), ("p99", BenchStats.quantile(0.99, of: noticed)), ("max", noticedWorst),
                    ("writes", Double(noticed.count)), ("debounce", samples.debounce),
                    ("over_debounce_p50", noticedP50 - samples.debounce),
                ],
                target: ("p50 < debounce + 50 ms (\(Int(budget)) ms)", noticedP50 < budget)
            )
        )
    }

    /// A device: a new database with the `items` table, registered in a local store.
    static func openDevice(_ url: URL) async throws -> (DatabasePool, LocalStore) {
        let pool = try DatabasePool(path: url.path)
        try await pool.write { db in try db.execute(sql: BenchRecords.createTableSQL) }
        let store = try LocalStore(pool)
        try store.register(table: BenchRecords.entity)
        return (pool, store)
    }

    /// Inserts bench record `index` into the `items` table of `writer`, as the app would.
    static func insertItem(_ index: Int, into writer: some DatabaseWriter) async throws {
        let (title, body) = BenchRecords.text(index)
        try await writer.write { db in
            try db.execute(
                sql: "INSERT INTO items (id, title, body, n, done) VALUES (?, ?, ?, ?, 0)",
                arguments: [BenchRecords.key(index), title, body, index]
            )
        }
    }

    /// The ceiling of a run's empty-pull round trips: their p50, min and max, in ms.
    static func roundTripFloor(name: String, label: String, _ floor: [Double]) -> BenchCeiling {
        BenchCeiling(
            name: name,
            label: label,
            stats: BenchStats(median: BenchStats.quantile(0.5, of: floor), min: floor.min() ?? .nan, max: floor.max() ?? .nan, count: 1),
            unit: "ms"
        )
    }
}
