import FerryClient
import FerryCore
import FerryTestKit
import FerryTestSupport
import Foundation
import GRDB
import Synchronization
import Testing

/// A `ferry serve` that a test kills and starts again on the same storage, behind a proxy so
/// that clients keep one address.
private final class RestartableServer: Sendable {
    let arguments: [String]
    let waitUntilHealthy: Bool
    let proxy: FaultProxy
    private let current: Mutex<ServerProcess?>

    init(arguments: [String], waitUntilHealthy: Bool) async throws {
        self.arguments = arguments
        self.waitUntilHealthy = waitUntilHealthy
        let server = try await ServerProcess(arguments: arguments, waitUntilHealthy: waitUntilHealthy)
        current = Mutex(server)
        do {
            proxy = try await FaultProxy.start(upstreamPort: server.port)
        } catch {
            await server.stop()
            throw error
        }
    }

    /// The running server's own URL (not through the proxy).
    var directURL: String { current.withLock { $0?.baseURL ?? "" } }

    /// SIGKILLs the server, waits for it to end, starts a new one on the same storage and
    /// points the proxy at it; answers how long the server was away.
    func killAndRestart() async throws -> Duration {
        let start = ContinuousClock.now
        let old = current.withLock { server in
            defer { server = nil }
            return server
        }
        if let old {
            let status = try await old.stop(signal: SIGKILL)
            #expect(old.exitDescription == "was killed by signal \(SIGKILL)", "status \(status)")
        }
        let server = try await ServerProcess(arguments: arguments, waitUntilHealthy: waitUntilHealthy)
        current.withLock { $0 = server }
        proxy.setUpstream(port: server.port)
        return ContinuousClock.now - start
    }

    /// Stops the server (SIGTERM) and the proxy.
    func stop() async {
        let server = current.withLock { server in
            defer { server = nil }
            return server
        }
        await server?.stop()
        await proxy.stop()
    }
}

/// The device rows of the `ferry sync` tests, read by Python.
private func notesRows(_ path: String) throws -> String {
    let dump = "import sqlite3, sys\nprint(list(sqlite3.connect(sys.argv[1]).execute('SELECT id, title, n FROM notes ORDER BY id')))"
    return try runProgram("/usr/bin/env", ["python3", "-c", dump, path]).output
}

/// Reads one integer from the SQLite file at `path`, while another process writes it.
private struct Watcher {
    let queue: DatabaseQueue

    init(_ path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        queue = try DatabaseQueue(path: path, configuration: configuration)
    }

    func value(_ sql: String) -> Int64? {
        try? queue.read { db in try Int64.fetchOne(db, sql: sql) }
    }

    var cursor: Int64 { value("SELECT last_seq FROM ferry_cursor WHERE space = 'notes'") ?? 0 }
    var chunks: Int64 { value("SELECT count(*) FROM ferry_bootstrap_chunks") ?? 0 }
    var chunkRecords: Int64 { value("SELECT coalesce(sum(records), 0) FROM ferry_bootstrap_chunks") ?? 0 }
}

/// Starts `ferry arguments…` as a child process, its output collected.
private func startFerry(_ arguments: [String]) throws -> (Process, ProcessOutput) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ServerProcess.executable)
    process.arguments = arguments
    let pipe = Pipe()
    let output = ProcessOutput()
    process.standardOutput = pipe
    process.standardError = pipe
    output.collect(from: pipe)
    try process.run()
    return (process, output)
}

/// The number after `label` in a `ferry sync` report (`pushed 0, pulled 123, bootstrapped 0, …`).
private func reported(_ label: String, in text: String) -> Int? {
    guard let range = text.range(of: "\(label) ") else { return nil }
    return Int(text[range.upperBound...].prefix { $0.isNumber })
}

/// Kills a `ferry serve` or a `ferry sync` at seeded random moments, and a PostgreSQL server
/// once, while clients work: the log stays 1…N, every acknowledged mutation is in it once,
/// every device converges, and no cursor moves backwards.
@Suite(.serialized, .tags(.realTime)) struct CrashLoopTests {
    static let seed = ProcessInfo.processInfo.environment["FERRY_FAULT_SEED"].flatMap(UInt64.init) ?? 0xC4A5_1100

    /// 8 in-process devices push and pull through a proxy while the server is SIGKILLed and
    /// started again on the same storage 20 times.
    private func killTheServerTwentyTimes(storage: [String], postgres: Bool) async throws {
        let folder = try TemporaryFolder()
        let token = try createToken(storage)
        let server = try await RestartableServer(arguments: storage, waitUntilHealthy: postgres)
        let ledger = AckLedger()
        var devices: [FaultDevice] = []
        do {
            for i in 0..<8 {
                devices.append(
                    try FaultDevice(
                        "d\(i)",
                        folder: folder,
                        baseURL: server.proxy.baseURL,
                        token: token,
                        ledger: ledger,
                        requestTimeout: .seconds(3),
                        onePerConnection: false,
                        pushBatchSize: 4
                    )
                )
            }
            let kills = 20
            let killed = Flag()
            let devicesNow = devices
            let (writes, downtimes) = try await withThrowingTaskGroup(of: (Int, [Duration]).self) { group in
                group.addTask {
                    var generator = SeededGenerator(seed: Self.seed)
                    var downtimes: [Duration] = []
                    defer { killed.set() }
                    for _ in 0..<kills {
                        try await Task.sleep(for: .milliseconds(Int.random(in: 50...450, using: &generator)))
                        downtimes.append(try await server.killAndRestart())
                    }
                    return (0, downtimes)
                }
                for device in devicesNow {
                    group.addTask {
                        var written = 0
                        while !killed.isSet && written < 400 {
                            try device.insert(written..<(written + 3))
                            written += 3
                            _ = try? await device.engine.sync()
                            try await Task.sleep(for: .milliseconds(30))
                        }
                        try await device.syncUntilClean(before: .now + .seconds(90))
                        return (written, [])
                    }
                }
                var writes = 0
                var downtimes: [Duration] = []
                for try await (count, times) in group {
                    writes += count
                    downtimes += times
                }
                return (writes, downtimes)
            }
            for device in devices { try await device.syncUntilClean(before: .now + .seconds(60)) }
            let context = "seed \(Self.seed), \(writes) writes, server away \(downtimes.map(milliseconds)) ms"
            #expect(downtimes.count == kills, "\(context)")
            let log = try await serverLog(server.directURL, token: token)
            expectLogIsExact(log, writes: writes, ledger: ledger, context)
            let replay = try await replayRows(server.directURL, token: token, folder: folder)
            #expect(replay.count == writes, "\(context)")
            for device in devices {
                #expect(try await device.pending() == 0, "\(device.name) (\(context))")
                #expect(try device.rows() == replay, "\(device.name) differs from the replay (\(context))")
            }
            print("CrashLoopTests: \(context)")
        } catch {
            for device in devices { await device.close() }
            await server.stop()
            throw error
        }
        for device in devices { await device.close() }
        await server.stop()
    }

    @Test func theServerKilledTwentyTimesOnSQLiteLosesNothing() async throws {
        let folder = try TemporaryFolder()
        try await killTheServerTwentyTimes(storage: ["--data", folder.path("server")], postgres: false)
    }

    @Test(.enabled(if: PostgresTestServer.adminURL != nil || PostgresTestServer.isCI, "needs the PostgreSQL of scripts/with-postgres"))
    func theServerKilledTwentyTimesOnPostgreSQLLosesNothing() async throws {
        let folder = try TemporaryFolder()
        try await PostgresTestServer.withDatabase { url in
            try await killTheServerTwentyTimes(storage: ["--postgres", url, "--data", folder.path("unused")], postgres: true)
        }
    }

    /// A `ferry sync` pulling a long log (500 mutations a page) is SIGKILLed three times
    /// while it applies pages; the cursor never goes back, and the run that completes
    /// applies exactly the mutations above the last cursor.
    @Test func aClientKilledWhileApplyingALargePullResumesFromItsCursor() async throws {
        let folder = try TemporaryFolder()
        let data = folder.path("server")
        let server = try await ServerProcess(arguments: ["--data", data])
        defer { if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        let token = try createToken(["--data", data])
        let remote = ["--server", server.baseURL, "--space", "notes", "--token", token]
        let (source, copy) = (folder.path("source.sqlite"), folder.path("copy.sqlite"))
        let count = 20_000
        try importRecords(count, into: source, copy: copy, remote: remote, folder: folder)

        var generator = SeededGenerator(seed: Self.seed)
        var cursors: [Int64] = [0]
        let watcher = try Watcher(copy)
        for _ in 0..<3 {
            let (process, output) = try startFerry(["sync", "--db", copy, "--bootstrap-threshold", "1000000000000"] + remote)
            let before = cursors.last ?? 0
            let deadline = ContinuousClock.now + .seconds(60)
            // Killed a seeded moment after it has applied a page more than before.
            while process.isRunning && ContinuousClock.now < deadline && watcher.cursor <= before {
                try await Task.sleep(for: .milliseconds(2))
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...120, using: &generator)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal, "the sync ended before it was killed: \(output.text)")
            cursors.append(watcher.cursor)
        }
        try watcher.queue.close()
        #expect(cursors == cursors.sorted(), "the cursor went back: \(cursors)")
        let last = cursors.last ?? 0
        #expect(last > 0 && last < Int64(count), "killed at cursors \(cursors)")

        let resumed = try ferry(["sync", "--db", copy] + remote)
        #expect(resumed.status == 0, "\(resumed.output)")
        #expect(reported("pulled", in: resumed.output) == count - Int(last), "cursors \(cursors): \(resumed.output)")
        let final = try Watcher(copy)
        #expect(final.cursor == Int64(count))
        try final.queue.close()
        #expect(try notesRows(copy) == notesRows(source))
        try await server.stop(signal: SIGTERM)
    }

    /// A `ferry sync` bootstrapping from a snapshot of 20-record chunks is SIGKILLed three
    /// times; chunks applied stay applied, the cursor stays at 0 until the end, and the run
    /// that completes applies exactly the records of the chunks not applied yet.
    @Test func aClientKilledDuringABootstrapResumesWithoutApplyingAChunkTwice() async throws {
        let folder = try TemporaryFolder()
        let data = folder.path("server")
        let server = try await ServerProcess(arguments: ["--data", data, "--snapshot-every", "0"])
        defer { if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        let token = try createToken(["--data", data])
        let remote = ["--server", server.baseURL, "--space", "notes", "--token", token]
        let (source, copy) = (folder.path("source.sqlite"), folder.path("copy.sqlite"))
        let count = 4000
        try importRecords(count, into: source, copy: copy, remote: remote, folder: folder)
        let built = try ferry(["snapshot", "--data", data, "--space", "notes", "--chunk-records", "20"])
        #expect(built.status == 0, "\(built.output)")

        var generator = SeededGenerator(seed: Self.seed)
        var applied: [Int64] = [0]
        let watcher = try Watcher(copy)
        for _ in 0..<3 {
            let (process, output) = try startFerry(["sync", "--db", copy, "--bootstrap-threshold", "0"] + remote)
            let before = applied.last ?? 0
            let deadline = ContinuousClock.now + .seconds(60)
            while process.isRunning && ContinuousClock.now < deadline && watcher.chunks <= before {
                try await Task.sleep(for: .milliseconds(2))
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...80, using: &generator)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal, "the sync ended before it was killed: \(output.text)")
            applied.append(watcher.chunks)
            #expect(watcher.cursor == 0, "the cursor moved before the bootstrap ended")
        }
        let records = watcher.chunkRecords
        try watcher.queue.close()
        #expect(applied == applied.sorted(), "applied chunks went back: \(applied)")
        #expect(records > 0 && records < Int64(count), "killed at \(applied) chunks")

        let resumed = try ferry(["sync", "--db", copy] + remote)
        #expect(resumed.status == 0, "\(resumed.output)")
        #expect(reported("bootstrapped", in: resumed.output) == count - Int(records), "chunks \(applied): \(resumed.output)")
        let final = try Watcher(copy)
        #expect(final.cursor == Int64(count))
        try final.queue.close()
        #expect(try notesRows(copy) == notesRows(source))
        try await server.stop(signal: SIGTERM)
    }

    /// 6 in-process devices push through a `ferry serve` on PostgreSQL while the database is
    /// stopped (`pg_ctl stop -m fast`) for 3 seconds and started again.
    @Test(.enabled(if: PostgresTestServer.pgCtl != nil || PostgresTestServer.isCI, "needs the PostgreSQL of scripts/with-postgres"))
    func aPostgreSQLRestartMidPushLosesNothingAndStoresNothingTwice() async throws {
        let folder = try TemporaryFolder()
        try await PostgresTestServer.withDatabase { url in
            let storage = ["--postgres", url, "--data", folder.path("unused")]
            let token = try createToken(storage)
            let server = try await ServerProcess(arguments: storage, waitUntilHealthy: true)
            defer { if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
            let ledger = AckLedger()
            let devices = try (0..<6).map {
                try FaultDevice(
                    "d\($0)",
                    folder: folder,
                    baseURL: server.baseURL,
                    token: token,
                    ledger: ledger,
                    requestTimeout: .seconds(5),
                    onePerConnection: false,
                    pushBatchSize: 5
                )
            }
            let restarted = Flag()
            let outcome: Result<Int, any Error>
            do {
                let writes = try await withThrowingTaskGroup(of: Int.self) { group in
                    group.addTask {
                        defer { restarted.set() }
                        try await Task.sleep(for: .milliseconds(800))
                        try await PostgresTestServer.control(["-m", "fast", "stop"])
                        do {
                            try await Task.sleep(for: .seconds(3))
                        } catch {
                            try? await PostgresTestServer.control(["start"])
                            throw error
                        }
                        try await PostgresTestServer.control(["start"])
                        return 0
                    }
                    for device in devices {
                        group.addTask {
                            var written = 0
                            // Writes until a while after the database is back.
                            var after = 0
                            while after < 10 && written < 600 {
                                if restarted.isSet { after += 1 }
                                try device.insert(written..<(written + 5))
                                written += 5
                                _ = try? await device.engine.sync()
                                try await Task.sleep(for: .milliseconds(50))
                            }
                            try await device.syncUntilClean(before: .now + .seconds(90), pause: .milliseconds(200))
                            return written
                        }
                    }
                    return try await group.reduce(0, +)
                }
                for device in devices { try await device.syncUntilClean(before: .now + .seconds(60)) }
                let log = try await serverLog(server.baseURL, token: token)
                expectLogIsExact(log, writes: writes, ledger: ledger, "\(writes) writes")
                let replay = try await replayRows(server.baseURL, token: token, folder: folder)
                for device in devices { #expect(try device.rows() == replay, "\(device.name) differs from the replay") }
                outcome = .success(writes)
            } catch {
                outcome = .failure(error)
            }
            for device in devices { await device.close() }
            try await server.stop(signal: SIGTERM)
            _ = try outcome.get()
        }
    }

    /// Fills `source` with `count` records through `ferry import` (pushed in bulk), and
    /// creates `copy` with the same table, tracked and empty.
    private func importRecords(_ count: Int, into source: String, copy: String, remote: [String], folder: TemporaryFolder) throws {
        let schema = "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT, n INTEGER);"
        try runSQLite(source, schema)
        try runSQLite(copy, schema)
        #expect(try ferry(["track", "--db", source, "notes"]).status == 0)
        #expect(try ferry(["track", "--db", copy, "notes"]).status == 0)
        let file = folder.path("records.ndjson")
        try (0..<count).map { #"{"id": "r\#($0)", "title": "record \#($0)", "n": \#($0)}"# }.joined(separator: "\n")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let imported = try ferry(["import", "--db", source, "--table", "notes"] + remote + [file])
        #expect(imported.status == 0, "\(imported.output)")
    }
}
