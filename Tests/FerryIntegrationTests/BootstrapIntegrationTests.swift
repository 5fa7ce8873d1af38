import FerryBench
import FerryCore
import FerryTestSupport
import Foundation
import GRDB
import NIOHTTP1
import Testing

/// The rows of `notes`, read by Python.
private func rows(_ path: String) throws -> String {
    let dump = "import sqlite3, sys\nprint(list(sqlite3.connect(sys.argv[1]).execute('SELECT id, title, n FROM notes ORDER BY id')))"
    return try runProgram("/usr/bin/env", ["python3", "-c", dump, path]).output
}

/// A bootstrap through `ferry sync` against a real `ferry serve`, killed halfway.
@Suite(.serialized, .tags(.realTime)) struct BootstrapIntegrationTests {
    @Test func aBootstrapKilledHalfwayResumesWithoutDownloadingAppliedChunksAgain() async throws {
        let folder = try TemporaryFolder()
        let data = folder.path("data")
        let server = try await ServerProcess(arguments: ["--data", data, "--snapshot-every", "0"])
        let token = try #require(server.printedValue(after: "access token:"))
        let schema = "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT, n INTEGER);"
        let source = folder.path("source.sqlite")
        let copy = folder.path("copy.sqlite")
        try runSQLite(source, schema)
        try runSQLite(copy, schema)
        #expect(try ferry(["track", "--db", source, "notes"]).status == 0)
        #expect(try ferry(["track", "--db", copy, "notes"]).status == 0)
        let count = 2000
        let file = folder.path("records.ndjson")
        try (0..<count).map { #"{"id": "r\#($0)", "title": "record \#($0)", "n": \#($0)}"# }.joined(separator: "\n")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let remote = ["--server", server.baseURL, "--space", "default", "--token", token]
        let imported = try ferry(["import", "--db", source, "--table", "notes"] + remote + [file])
        #expect(imported.status == 0, "\(imported.output)")
        // Two records a chunk: thousands of chunks, so the bootstrap is still going when killed.
        // Later changes, after the snapshot: the copy pulls them after the chunks.
        let built = try ferry(["snapshot", "--data", data, "--space", "default", "--chunk-records", "2"])
        #expect(built.status == 0, "\(built.output)")
        try runSQLite(source, "UPDATE notes SET title = 'changed' WHERE id = 'r5'; DELETE FROM notes WHERE id = 'r6';")
        #expect(try ferry(["sync", "--db", source] + remote).status == 0)

        func served() async throws -> Int {
            try await FerryTestClient.withHTTPClient { client in
                let metrics = try await FerryTestClient(baseURL: server.baseURL, client: client).request(.GET, "/metrics").text
                let line = metrics.split(separator: "\n").first { $0.hasPrefix("ferry_snapshot_chunks_served_total ") }
                return Int(line?.split(separator: " ").last.flatMap { Double($0) } ?? 0)
            }
        }

        // The first sync is killed once it has applied some chunks (each in its own
        // transaction, recorded in ferry_bootstrap_chunks), read from its database meanwhile.
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        let watcher = try DatabaseQueue(path: copy, configuration: configuration)
        var lastError: (any Error)?
        func appliedChunks() -> Int {
            do {
                return try watcher.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM ferry_bootstrap_chunks") ?? 0 }
            } catch {
                lastError = error
                return 0
            }
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ServerProcess.executable)
        process.arguments = ["sync", "--db", copy, "--bootstrap-threshold", "0"] + remote
        let pipe = Pipe()
        let output = ProcessOutput()
        process.standardOutput = pipe
        process.standardError = pipe
        output.collect(from: pipe)
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        var polls = 0
        // Killed once its database holds applied chunks, or a progress line (one a second)
        // shows records applied.
        while process.isRunning && ContinuousClock.now < deadline && appliedChunks() < 20 && Self.recordsDone(in: output.text) == 0 {
            polls += 1
            try await Task.sleep(for: .milliseconds(1))
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(
            process.terminationReason == .uncaughtSignal,
            "the sync ended before it was killed (\(polls) polls, last error \(String(describing: lastError))): \(output.text)"
        )
        let applied = appliedChunks()
        try watcher.close()
        #expect(applied > 0 && applied < count, "killed at \(applied) of \(count) chunks (\(String(describing: lastError)))")
        let before = try await served()

        let resumed = try ferry(["sync", "--db", copy] + remote)
        #expect(resumed.status == 0, "\(resumed.output)")
        let downloaded = try await served() - before
        #expect(downloaded > 0)
        #expect(downloaded <= count - applied, "\(downloaded) chunks downloaded after \(applied) of \(count) were applied")
        let (copyRows, sourceRows) = (try rows(copy), try rows(source))
        #expect(copyRows == sourceRows, "\(resumed.output)\n\(copyRows.count) vs \(sourceRows.count) characters")
        #expect(try rows(copy).contains("('r5', 'changed', 5)"))
        #expect(try !rows(copy).contains("'r6'"))
        try await server.stop(signal: SIGTERM)
    }

    /// The records done of the last progress line (`… 120/3000 records, …`).
    static func recordsDone(in text: String) -> Int {
        for line in text.split(separator: "\n").reversed() {
            guard let range = line.range(of: " records, ") else { continue }
            guard let fraction = line[..<range.lowerBound].split(separator: " ").last, let done = fraction.split(separator: "/").first
            else { continue }
            return Int(done) ?? 0
        }
        return 0
    }
}
