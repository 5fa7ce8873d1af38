import FerryCore
import FerryTestSupport
import Foundation
import Testing

/// Ferry beside an app in another language: docs/examples/notes.py (the example of
/// docs/sidecar.md, run as it is there) writes with Python's sqlite3 module while
/// `ferry sync --watch --live` runs on both databases.
@Suite(.serialized, .tags(.realTime)) struct SidecarTests {
    /// docs/examples/notes.py, found from this file.
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/examples/notes.py").path

    private func notes(_ db: String, _ arguments: String...) throws -> String {
        let result = try runProgram("/usr/bin/env", ["python3", Self.example, db] + arguments)
        guard result.status == 0 else { throw ProcessError(message: "notes.py \(arguments) failed: \(result.output)") }
        return result.output
    }

    /// Starts `ferry sync --watch --live` on `db`; its output goes to `output`.
    private func watch(_ db: String, server: String, token: String, output: ProcessOutput) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ServerProcess.executable)
        // An hour between polls: only the noticing of the app's commits can push within the test.
        process.arguments = [
            "sync", "--db", db, "--server", server, "--space", "notes", "--token", token, "--watch", "--live", "--interval", "3600",
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        output.collect(from: pipe)
        try process.run()
        return process
    }

    /// Polls `db`'s notes until `condition` holds, for at most 10 seconds; answers the last list.
    private func waitForNotes(_ db: String, _ condition: (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(10)
        var listed = try notes(db, "list")
        while !condition(listed) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            listed = try notes(db, "list")
        }
        return listed
    }

    @Test func aPythonWriteReachesTheOtherDatabaseWhileBothWatch() async throws {
        let folder = try TemporaryFolder()
        let server = try await ServerProcess(arguments: ["--data", folder.path("server")])
        let created = try ferry(["token", "create", "--data", folder.path("server"), "--space", "notes", "--json"])
        #expect(created.status == 0)
        let token = try JSONDecoder().decode(TokenPair.self, from: Data(created.output.utf8)).accessToken

        let a = folder.path("a.sqlite")
        let b = folder.path("b.sqlite")
        for db in [a, b] {
            _ = try notes(db, "init")
            let tracked = try ferry(["track", "--db", db, "notes"])
            #expect(tracked.status == 0, "\(tracked.output)")
        }
        let outputA = ProcessOutput()
        let outputB = ProcessOutput()
        let watchA = try watch(a, server: server.baseURL, token: token, output: outputA)
        let watchB = try watch(b, server: server.baseURL, token: token, output: outputB)
        defer {
            for process in [watchA, watchB] where process.isRunning { process.terminate() }
        }
        // Both have synced once (a status line each) before the app writes.
        let started = ContinuousClock.now + .seconds(10)
        while !(outputA.text.contains("healthy") && outputB.text.contains("healthy")) && ContinuousClock.now < started {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(outputA.text.contains("healthy") && outputB.text.contains("healthy"), "A: \(outputA.text) B: \(outputB.text)")

        let id = try notes(a, "add", "written by python").trimmingCharacters(in: .whitespacesAndNewlines)
        let written = ContinuousClock.now
        let arrived = try await waitForNotes(b) { $0.contains(id) }
        let elapsed = ContinuousClock.now - written
        #expect(arrived == "\(id)\t0\twritten by python\n", "B after \(elapsed): \(arrived); A printed: \(outputA.text)")

        // An update and a delete from Python travel the same way.
        _ = try notes(a, "done", id)
        #expect(try await waitForNotes(b) { $0.contains("\(id)\t1\t") }.contains("\(id)\t1\t"))
        _ = try notes(b, "delete", id)
        #expect(try await waitForNotes(a) { !$0.contains(id) } == "")

        for process in [watchA, watchB] {
            process.terminate()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "SIGTERM stops the watch gracefully")
        }
        try await server.stop(signal: SIGTERM)
    }
}
