import FerryClient
import FerryCore
import FerryHTTP
import Foundation
import GRDB
import Synchronization

extension BenchRunner {
    /// `sidecar`: Ferry beside an app in another language. Two databases, each with a
    /// `ferry sync --watch --live` child; a Python child (plain `sqlite3`) writes one record
    /// at a time into A; the time from the write's commit (wall clock, read by Python right
    /// after `commit()`) to the record's appearance in B (a read connection polling B's
    /// `PRAGMA data_version` every half millisecond), p50, p99 and max. Floor: an empty
    /// pull's round trip to the same server.
    func runSidecar() async throws {
        try await withServer("sidecar", spaces: ["sidecar"]) { server in
            let space = server.space("sidecar")
            let folder = root.appendingPathComponent("sidecar")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let a = folder.appendingPathComponent("a.sqlite").path
            let b = folder.appendingPathComponent("b.sqlite").path
            for path in [a, b] {
                // As the app would: its table, in WAL mode; then `ferry track`.
                let database = try DatabaseQueue(path: path)
                try await database.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA journal_mode = WAL")
                    try db.execute(sql: BenchRecords.createTableSQL)
                }
                try database.close()
                let tracked = try runProgram(plan.ferry, ["track", "--db", path, BenchRecords.entity])
                guard tracked.status == 0 else { throw BenchError("sidecar: ferry track failed: \(tracked.output)") }
            }
            let floor = try await withTransport(server) { transport in
                try await sidecarFloor(server, space: space, transport: transport)
            }
            progress.show("sidecar: starting two ferry sync --watch --live")
            let watchers = try [a, b].map { path in
                try SidecarChild(
                    plan.ferry,
                    [
                        "sync", "--db", path, "--server", server.baseURL, "--space", space, "--token", server.token,
                        "--watch", "--live",
                    ]
                )
            }
            let writer = try SidecarChild("/usr/bin/env", ["python3", "-c", Self.sidecarWriter, a])
            defer {
                for child in watchers + [writer] { child.stop() }
            }
            for watcher in watchers { try await watcher.waitFor("healthy", timeout: .seconds(30)) }
            let observer = try DatabaseQueue(path: b, configuration: Self.readOnly)
            defer { try? observer.close() }

            var samples: [Double] = []
            let warmUp = 5
            let records = freshRecords(plan.sidecarWrites + warmUp)
            for (position, index) in records.enumerated() {
                if position % 10 == 0 {
                    progress.show("sidecar: write \(max(0, position - warmUp))/\(plan.sidecarWrites) by python into A, seen in B")
                }
                let (title, body) = BenchRecords.text(index)
                let key = BenchRecords.key(index)
                try writer.send("\(key)\t\(title)\t\(body)\t\(index)\n")
                let committed = try await writer.nextLine(timeout: .seconds(30))
                guard let committedNanoseconds = Double(committed) else { throw BenchError("sidecar: python printed '\(committed)'") }
                let seen = try await Self.waitForRow(key, in: observer, timeout: .seconds(30))
                if position >= warmUp { samples.append((seen - committedNanoseconds / 1e9) * 1000) }
                // The next write comes at a moment unrelated to the watcher's checks.
                try await Task.sleep(for: .milliseconds(10 + (index * 7919) % 40))
            }
            recordSidecar(samples, floor: floor)
        }
    }

    /// The Python writer: for each line `key TAB title TAB body TAB n` on its standard input,
    /// inserts the record in its own transaction and prints the wall time of the commit in
    /// nanoseconds.
    static let sidecarWriter = """
        import sqlite3, sys, time
        db = sqlite3.connect(sys.argv[1], timeout=10)
        for line in sys.stdin:
            key, title, body, n = line.rstrip("\\n").split("\\t")
            db.execute("INSERT INTO items (id, title, body, n, done) VALUES (?, ?, ?, ?, 0)", (key, title, body, int(n)))
            db.commit()
            print(time.time_ns(), flush=True)
        """

    /// A read-only connection that waits at most a second for a lock.
    private static var readOnly: Configuration {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(1)
        return configuration
    }

    /// Polls `database` until the record `key` is in it; answers the wall time (seconds since
    /// 1970) it was first seen.
    private static func waitForRow(_ key: String, in database: DatabaseQueue, timeout: Duration) async throws -> Double {
        let deadline = ContinuousClock.now + timeout
        var lastVersion: Int?
        while true {
            let seen = lastVersion
            let found = try await database.read { db -> (Int, Bool) in
                let version = try Int.fetchOne(db, sql: "PRAGMA data_version") ?? 0
                guard version != seen else { return (version, false) }
                return (version, try Bool.fetchOne(db, sql: "SELECT 1 FROM items WHERE id = ?", arguments: [key]) ?? false)
            }
            if found.1 { return Date().timeIntervalSince1970 }
            lastVersion = found.0
            guard ContinuousClock.now < deadline else { throw BenchError("sidecar: \(key) did not reach B within \(timeout)") }
            try await Task.sleep(for: .microseconds(500))
        }
    }

    /// Empty pulls' round trips, in milliseconds.
    private func sidecarFloor(_ server: BenchServer, space: String, transport: HTTPTransport) async throws -> [Double] {
        progress.show("sidecar: floor, empty pull round trips")
        let head = try await head(server, space: space, transport: transport)
        var floor: [Double] = []
        for _ in 0..<100 {
            let elapsed = try await ContinuousClock().measure {
                _ = try await transport.pull(space: space, since: head, limit: 1, excludeDevice: nil, wait: nil)
            }
            floor.append(elapsed.milliseconds)
        }
        return floor
    }

    /// Records the sidecar result and its floor.
    private func recordSidecar(_ samples: [Double], floor: [Double]) {
        let floorCeiling = Self.roundTripFloor(
            name: "sidecar_http_round_trip",
            label: "p50 of an empty pull's round trip (sidecar floor)",
            floor
        )
        record(floorCeiling)
        let p50 = BenchStats.quantile(0.5, of: samples)
        let worst = samples.max() ?? .nan
        record(
            BenchResult(
                workload: "sidecar",
                store: storeName,
                clients: 2,
                stats: BenchStats(median: p50, min: samples.min() ?? .nan, max: worst, count: 1),
                unit: "ms",
                ceiling: floorCeiling,
                extra: [("p50", p50), ("p99", BenchStats.quantile(0.99, of: samples)), ("max", worst), ("writes", Double(samples.count))],
                target: ("p50 < 100 ms", p50 < 100)
            )
        )
    }
}

/// A child process of the sidecar workload: its standard input is a pipe the bench writes
/// to, its output is collected line by line.
final class SidecarChild: Sendable {
    private let process: Process
    private let input: Pipe
    private let output = ProcessOutput()
    private let linesTaken = Mutex(0)

    /// Starts `executable arguments…`.
    init(_ executable: String, _ arguments: [String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        input = Pipe()
        let pipe = Pipe()
        process.standardInput = input
        process.standardOutput = pipe
        process.standardError = pipe
        output.collect(from: pipe)
        try process.run()
    }

    /// Writes `text` to the child's standard input.
    func send(_ text: String) throws {
        try input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
    }

    /// Waits until the child printed `text`.
    func waitFor(_ text: String, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while !output.text.contains(text) {
            guard process.isRunning, ContinuousClock.now < deadline else {
                throw BenchError("\(process.arguments?.first ?? "child") did not print '\(text)': \(output.text)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The next whole line the child printed, waiting for it.
    func nextLine(timeout: Duration) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            let taken = linesTaken.withLock { $0 }
            let lines = output.text.split(separator: "\n", omittingEmptySubsequences: false)
            // The last piece is a line still being written (or empty after a newline).
            if lines.count - 1 > taken {
                linesTaken.withLock { $0 = taken + 1 }
                return String(lines[taken])
            }
            guard process.isRunning, ContinuousClock.now < deadline else {
                throw BenchError("the child printed no line in time: \(output.text)")
            }
            try await Task.sleep(for: .microseconds(200))
        }
    }

    /// Stops the child (SIGTERM: a `ferry sync --watch` releases its lease) and waits for it.
    func stop() {
        try? input.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}
