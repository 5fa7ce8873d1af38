import FerryCore
import FerryTestSupport
import Foundation
import Testing

/// Runs the built `ferry` with `arguments`; answers its exit status, standard output and
/// standard error apart.
private func ferrySeparately(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ServerProcess.executable)
    process.arguments = arguments
    let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-stderr-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: errorFile) }
    let out = Pipe()
    process.standardOutput = out
    process.standardError = try FileHandle(forWritingTo: errorFile)
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let err = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
    return (process.terminationStatus, String(decoding: data, as: UTF8.self), err)
}

/// The rows of the delta table of `db`, as Python's sqlite3 prints them, or "no table".
private func dump(_ db: String) throws -> String {
    let script = """
        import sqlite3, sys
        c = sqlite3.connect(sys.argv[1])
        if not c.execute("SELECT 1 FROM sqlite_master WHERE name = 'delta_records'").fetchone():
            print("no table")
        else:
            for row in c.execute('SELECT source, id, etag, data, ref FROM delta_records ORDER BY id'): print(repr(row))
        """
    return try runProgram("/usr/bin/env", ["python3", "-c", script, db]).output
}

private func event(_ uid: String, _ summary: String) -> String {
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Ferry tests//EN\r\nBEGIN:VEVENT\r\nUID:\(uid)\r\nDTSTAMP:20260101T000000Z\r\n"
        + "DTSTART:20260301T100000Z\r\nDTEND:20260301T110000Z\r\nSUMMARY:\(summary)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
}

/// `ferry delta` as a user runs it: a real Radicale, a real `ferry serve`, two devices.
@Suite(.serialized, .tags(.realTime), .enabled(if: RadicaleServer.isAvailable || ProcessInfo.processInfo.environment["CI"] == "true"))
struct DeltaCommandLineTests {
    @Test func anOutsideCalendarFollowedByTwoDevices() async throws {
        try await RadicaleServer.with { radicale in
            let folder = try TemporaryFolder()
            let calendar = try await radicale.makeCalendar("family")
            try await radicale.put((1...20).map { (name: "e\($0).ics", text: event("e\($0)", "Event \($0) Café ☕")) }, in: calendar)

            let server = try await ServerProcess(arguments: ["--data", folder.path("server")])
            let created = try ferry(["token", "create", "--data", folder.path("server"), "--space", "family", "--json"])
            let token = try JSONDecoder().decode(TokenPair.self, from: Data(created.output.utf8)).accessToken
            let a = folder.path("a.sqlite")
            let b = folder.path("b.sqlite")
            let delta = [
                "delta", "caldav", "--url", calendar, "--user", radicale.username, "--password", radicale.password, "--db", a, "--json",
            ]

            let first = try ferrySeparately(delta)
            #expect(first.status == 0, "\(first.err)")
            let object = try #require(try JSONValue(parsing: Array(first.out.utf8)).objectValue, "stdout is one JSON object: \(first.out)")
            #expect(first.out.split(separator: "\n").count == 1)
            #expect(object["updated"] == .int(20) && object["deleted"] == .int(0) && object["full_resync"] == .bool(true))
            #expect(object["duration_ms"] != nil)

            #expect(try ferry(["track", "--db", a, "delta_records", "--key", "ref"]).status == 0)
            try runSQLite(
                b,
                """
                CREATE TABLE delta_records (source TEXT NOT NULL, id TEXT NOT NULL, etag TEXT, data TEXT NOT NULL,
                                            ref TEXT NOT NULL UNIQUE, PRIMARY KEY (source, id));
                """
            )
            #expect(try ferry(["track", "--db", b, "delta_records", "--key", "ref"]).status == 0)
            let sync = { (db: String) throws -> Int32 in
                try ferry(["sync", "--db", db, "--server", server.baseURL, "--space", "family", "--token", token]).status
            }
            #expect(try sync(a) == 0 && sync(b) == 0)
            let rowsA = try dump(a)
            #expect(rowsA.split(separator: "\n").count == 20)
            #expect(rowsA.contains("Café ☕"))
            #expect(try dump(b) == rowsA)

            // Changes on the calendar server travel the whole way.
            try await radicale.put(event("e3", "Moved"), as: "e3.ics", in: calendar)
            try await radicale.delete(calendar + "e4.ics")
            try await radicale.put(event("e21", "New"), as: "e21.ics", in: calendar)
            let second = try ferrySeparately(delta)
            #expect(second.status == 0, "\(second.err)")
            let next = try #require(try JSONValue(parsing: Array(second.out.utf8)).objectValue)
            #expect(next["updated"] == .int(2) && next["deleted"] == .int(1) && next["full_resync"] == .bool(false))
            #expect(try sync(a) == 0 && sync(b) == 0)
            let after = try dump(b)
            #expect(after == (try dump(a)))
            #expect(after.split(separator: "\n").count == 20)
            #expect(after.contains("SUMMARY:Moved") && !after.contains("/e4.ics"))
            try await server.stop(signal: SIGTERM)
        }
    }

    @Test func watchRunsAgainEveryIntervalAndStopsOnSIGTERM() async throws {
        try await RadicaleServer.with { radicale in
            let folder = try TemporaryFolder()
            let calendar = try await radicale.makeCalendar("watched")
            try await radicale.put(event("w1", "First"), as: "w1.ics", in: calendar)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ServerProcess.executable)
            process.arguments = [
                "delta", "caldav", "--url", calendar, "--user", radicale.username, "--password", radicale.password,
                "--db", folder.path("app.sqlite"), "--json", "--watch", "--interval", "1",
            ]
            let out = Pipe()
            let output = ProcessOutput()
            process.standardOutput = out
            output.collect(from: out)
            try process.run()
            func lines(atLeast count: Int) async throws -> [JSONValue] {
                let deadline = ContinuousClock.now + .seconds(30)
                while true {
                    let lines = output.text.split(separator: "\n")
                    if lines.count >= count { return try lines.map { try JSONValue(parsing: Array($0.utf8)) } }
                    guard ContinuousClock.now < deadline, process.isRunning else {
                        throw ProcessError(message: "ferry delta --watch printed: \(output.text)")
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            let first = try await lines(atLeast: 1)
            #expect(first[0].objectValue?["updated"] == .int(1) && first[0].objectValue?["full_resync"] == .bool(true))
            try await radicale.put(event("w2", "Second"), as: "w2.ics", in: calendar)
            // A later run (one a second) brings the new event.
            let deadline = ContinuousClock.now + .seconds(30)
            while try await lines(atLeast: 2).dropFirst().allSatisfy({ $0.objectValue?["updated"] == .int(0) }) {
                guard ContinuousClock.now < deadline else { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let later = try await lines(atLeast: 2).dropFirst()
            #expect(later.contains { $0.objectValue?["updated"] == .int(1) && $0.objectValue?["full_resync"] == .bool(false) })
            process.terminate()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "SIGTERM stops the watch gracefully")
        }
    }

    @Test func aFailureExitsNonZeroWithOneLineAndLeavesTheTableAsItWas() async throws {
        try await RadicaleServer.with { radicale in
            let folder = try TemporaryFolder()
            let calendar = try await radicale.makeCalendar("work")
            try await radicale.put((1...5).map { (name: "w\($0).ics", text: event("w\($0)", "Work \($0)")) }, in: calendar)
            let db = folder.path("app.sqlite")
            let base = ["delta", "caldav", "--url", calendar, "--user", radicale.username, "--db", db]

            // A first run with a wrong password creates no table.
            let refused = try ferrySeparately(base + ["--password", "wrong", "--json"])
            #expect(refused.status != 0)
            #expect(refused.out.isEmpty)
            let line = refused.err.split(separator: "\n")
            #expect(line.count == 1 && line.first?.hasPrefix("ferry delta: ") == true, "\(refused.err)")
            #expect(try dump(db) == "no table\n")

            #expect(try ferrySeparately(base + ["--password", radicale.password]).status == 0)
            let before = try dump(db)
            #expect(before.split(separator: "\n").count == 5)
            try await radicale.put(event("w1", "Changed"), as: "w1.ics", in: calendar)

            let wrong = try ferrySeparately(base + ["--password", "wrong"])
            #expect(wrong.status != 0 && wrong.err.contains("ferry delta: "))
            let unreachable = try ferrySeparately(["delta", "caldav", "--url", "http://127.0.0.1:9/nothing/", "--db", db])
            #expect(unreachable.status != 0 && unreachable.err.split(separator: "\n").count == 1, "\(unreachable.err)")
            #expect(try dump(db) == before)
        }
    }
}

/// `ferry delta aurinko` against the fake Aurinko server.
@Suite(.serialized, .tags(.realTime)) struct DeltaAurinkoCommandLineTests {
    @Test func aCalendarWithItsTimeRangeThenAnIncrementalRunAndAWrongToken() async throws {
        let fake = FakeAurinkoServer(accountToken: "acct", pageSize: 3)
        for n in 1...7 {
            fake.upsert(.calendar("primary"), id: "ev\(n)", json: "{\"id\":\"ev\(n)\",\"subject\":\"Meeting \(n)\",\"etag\":\"e\(n)\"}")
        }
        try await fake.run { root in
            let folder = try TemporaryFolder()
            let db = folder.path("app.sqlite")
            let run = [
                "delta", "aurinko", "--base-url", root, "--token", "acct", "--stream", "calendar:primary",
                "--time-min", "2026-01-01T00:00:00Z", "--time-max", "2026-12-31T23:59:59Z", "--db", db, "--json",
            ]
            let first = try ferrySeparately(run)
            #expect(first.status == 0, "\(first.err)")
            let object = try #require(try JSONValue(parsing: Array(first.out.utf8)).objectValue)
            #expect(object["updated"] == .int(7) && object["full_resync"] == .bool(true) && object["source"] == .string("calendar:primary"))
            let start = try #require(fake.received.first { $0.endpoint == .start })
            #expect(start.query["timeMin"] == "2026-01-01T00:00:00.000Z" && start.query["timeMax"] == "2026-12-31T23:59:59.000Z")
            #expect(fake.received.allSatisfy { $0.cacheControl == "no-cache" })

            fake.delete(.calendar("primary"), id: "ev2")
            fake.upsert(.calendar("primary"), id: "ev8", json: "{\"id\":\"ev8\"}")
            let second = try ferrySeparately(run)
            let next = try #require(try JSONValue(parsing: Array(second.out.utf8)).objectValue)
            #expect(next["updated"] == .int(1) && next["deleted"] == .int(1) && next["full_resync"] == .bool(false))
            let rows = try runProgram(
                "/usr/bin/env",
                [
                    "python3", "-c",
                    "import sqlite3,sys; print(sorted(r[0] for r in sqlite3.connect(sys.argv[1]).execute('SELECT id FROM delta_records')))",
                    db,
                ]
            ).output
            #expect(rows.contains("'ev8'") && !rows.contains("'ev2'"))

            var wrong = run
            wrong[wrong.firstIndex(of: "acct")!] = "nope"
            let refused = try ferrySeparately(wrong)
            #expect(refused.status != 0 && refused.out.isEmpty)
            #expect(
                refused.err.hasPrefix("ferry delta: calendar:primary: ") && refused.err.split(separator: "\n").count == 1,
                "\(refused.err)"
            )

            let bad = try ferrySeparately(["delta", "aurinko", "--base-url", root, "--token", "acct", "--stream", "mail", "--db", db])
            #expect(bad.status != 0 && bad.err.contains("--stream must be email, contacts or calendar:ID"))
        }
    }
}
