import FerryCore
import FerryHTTP
import FerryTestSupport
import Foundation
import Testing

/// Writes to an SQLite file with Python's sqlite3 module: another program than Ferry.
private func python(_ path: String, _ sql: String) throws {
    try runSQLite(path, sql)
}

/// The client commands as a user runs them, against a real `ferry serve`.
@Suite(.serialized, .tags(.realTime)) struct CommandLineTests {
    @Test func trackAndSyncCaptureWritesOfOtherProgramsAndConverge() async throws {
        let folder = try TemporaryFolder()
        let server = try await ServerProcess(arguments: ["--data", folder.path("server")])
        let created = try ferry(["token", "create", "--data", folder.path("server"), "--space", "notes", "--json"])
        #expect(created.status == 0)
        let issued = try JSONDecoder().decode(TokenPair.self, from: Data(created.output.utf8))

        let a = folder.path("a.sqlite")
        let b = folder.path("b.sqlite")
        let schema = "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0);"
        try python(a, schema + "INSERT INTO notes (id, title) VALUES (1, 'existing before tracking');")
        try python(b, schema)
        #expect(try ferry(["track", "--db", a, "notes"]).status == 0)
        #expect(try ferry(["track", "--db", b, "notes"]).status == 0)
        // Python writes after tracking are captured by the triggers.
        try python(a, "INSERT INTO notes (id, title) VALUES (2, 'from python'); UPDATE notes SET done = 1 WHERE id = 1;")
        try python(b, "INSERT INTO notes (id, title) VALUES (3, 'from b');")

        let sync = { (db: String) throws -> (Int32, String) in
            try ferry(["sync", "--db", db, "--server", server.baseURL, "--space", "notes", "--token", issued.accessToken])
        }
        for db in [a, b, a] {
            let result = try sync(db)
            #expect(result.0 == 0, "\(result.1)")
        }
        let status = try ferry(["status", "--db", a, "--json"])
        #expect(status.status == 0)
        let object = try JSONDecoder().decode(JSONValue.self, from: Data(status.output.utf8)).objectValue
        #expect(object?["pending"] == .int(0))
        #expect(object?["tables"] == .array([.string("notes")]))

        let dump = "import sqlite3, sys\nprint(list(sqlite3.connect(sys.argv[1]).execute('SELECT id, title, done FROM notes ORDER BY id')))"
        let rowsA = try runProgram("/usr/bin/env", ["python3", "-c", dump, a]).output
        let rowsB = try runProgram("/usr/bin/env", ["python3", "-c", dump, b]).output
        #expect(rowsA == rowsB)
        #expect(rowsA.contains("(1, 'existing before tracking', 1)"))
        #expect(rowsA.contains("(2, 'from python', 0)"))
        #expect(rowsA.contains("(3, 'from b', 0)"))

        #expect(try ferry(["conflicts", "list", "--db", a]).output.contains("no conflicts"))
        #expect(try ferry(["sync", "--db", a, "--server", server.baseURL, "--space", "notes", "--token", "wrong"]).status != 0)
        try await server.stop(signal: SIGTERM)
    }

    @Test func streamWritesEventsToAFileAndResumesFromItsCheckpoints() async throws {
        let folder = try TemporaryFolder()
        let server = try await ServerProcess(arguments: ["--data", folder.path("server")])
        let created = try ferry(["token", "create", "--data", folder.path("server"), "--space", "notes", "--json"])
        let issued = try JSONDecoder().decode(TokenPair.self, from: Data(created.output.utf8))
        let db = folder.path("a.sqlite")
        try python(db, "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT); INSERT INTO notes VALUES (1, 'a'), (2, 'b'), (3, 'c');")
        #expect(try ferry(["track", "--db", db, "notes"]).status == 0)
        let sync = ["sync", "--db", db, "--server", server.baseURL, "--space", "notes", "--token", issued.accessToken]
        #expect(try ferry(sync).status == 0)

        let out = folder.path("events.ndjson")
        let stream = [
            "stream", "--server", server.baseURL, "--space", "notes", "--device", "exporter", "--types", "notes,task",
            "--token", issued.accessToken, "--out", out, "--batch-size", "2",
        ]
        let first = try ferry(stream)
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("notes: 3"))
        #expect(first.output.contains("complete through seq 3"))
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        let events = try lines.map { try StreamEvent(line: Array($0.utf8)) }
        #expect(events.map(\.ack) == ["notes|1", "notes|2", "notes|3"])
        #expect(try events.map { try $0.mutation().entityKey } == ["1", "2", "3"])

        // The next run starts from the checkpoints: only what was pushed since.
        try python(db, "INSERT INTO notes VALUES (4, 'd');")
        #expect(try ferry(sync).status == 0)
        let second = try ferry(stream)
        #expect(second.status == 0, "\(second.output)")
        #expect(second.output.contains("notes: 1"))
        #expect(try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").count == 4)

        let refused = try ferry(stream.map { $0 == issued.accessToken ? "wrong" : $0 })
        #expect(refused.status == 1)
        #expect(refused.output.contains("unauthorized") || refused.output.contains("refused"))
        try await server.stop(signal: SIGTERM)
    }

    @Test func importPushesInBulkAndANewCopyBootstrapsFromTheSnapshot() async throws {
        let folder = try TemporaryFolder()
        let data = folder.path("data")
        let server = try await ServerProcess(arguments: [
            "--memory", "--data", data, "--snapshot-every", "1", "--snapshot-chunk-records", "7",
        ])
        let created = try ferry(["token", "create", "--data", data, "--space", "notes", "--json"])
        let token = try JSONDecoder().decode(TokenPair.self, from: Data(created.output.utf8)).accessToken
        let schema = "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT, n INTEGER);"
        let a = folder.path("a.sqlite")
        let b = folder.path("b.sqlite")
        try python(a, schema)
        try python(b, schema)
        #expect(try ferry(["track", "--db", a, "notes"]).status == 0)
        #expect(try ferry(["track", "--db", b, "notes"]).status == 0)
        let records = (0..<30).map { #"{"id": "r\#($0)", "title": "record \#($0)", "n": \#($0), "ignored": true}"# }
        let file = folder.path("records.ndjson")
        try (records.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let remote = ["--server", server.baseURL, "--space", "notes", "--token", token]

        let imported = try ferry(["import", "--db", a, "--table", "notes"] + remote + [file])
        #expect(imported.status == 0, "\(imported.output)")
        #expect(imported.output.contains("imported 30 records into notes"))
        #expect(imported.output.contains("pushed 30 in 1 bulk chunks"), "\(imported.output)")
        let bad = folder.path("bad.ndjson")
        try "{\"id\": \"x\"}\n[1, 2]\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = try ferry(["import", "--db", a, "--table", "notes", bad])
        #expect(refused.status != 0)
        #expect(refused.output.contains("bad.ndjson:2"), "\(refused.output)")

        // The server builds its snapshot in the background: wait until it covers the import.
        let transport = HTTPTransport(configuration: HTTPTransportConfiguration(baseURL: server.baseURL, accessToken: token))
        var manifest = try await transport.manifest(space: "notes")
        for _ in 0..<200 where manifest.snapshotSeq < 30 {
            try await Task.sleep(for: .milliseconds(50))
            manifest = try await transport.manifest(space: "notes")
        }
        try await transport.shutdown()
        #expect(manifest.snapshotSeq == 30)

        let synced = try ferry(["sync", "--db", b, "--bootstrap-threshold", "0"] + remote)
        #expect(synced.status == 0, "\(synced.output)")
        #expect(synced.output.contains("bootstrapped 30"), "\(synced.output)")
        #expect(synced.output.contains("30/30 records"), "\(synced.output)")
        let dump = "import sqlite3, sys\nprint(list(sqlite3.connect(sys.argv[1]).execute('SELECT id, title, n FROM notes ORDER BY id')))"
        let rowsA = try runProgram("/usr/bin/env", ["python3", "-c", dump, a]).output
        let rowsB = try runProgram("/usr/bin/env", ["python3", "-c", dump, b]).output
        #expect(rowsA == rowsB)
        #expect(rowsB.contains("('r7', 'record 7', 7)"))
        try await server.stop(signal: SIGTERM)
    }

    @Test func statusShowsEachSpaceAndDoctorChecksTheDatabaseServerAndToken() async throws {
        let folder = try TemporaryFolder()
        let server = try await ServerProcess(arguments: ["--data", folder.path("server")])
        let created = try ferry(["token", "create", "--data", folder.path("server"), "--space", "notes", "--json"])
        let token = try JSONDecoder().decode(TokenPair.self, from: Data(created.output.utf8)).accessToken
        let other = try ferry(["token", "create", "--data", folder.path("server"), "--space", "other", "--json"])
        let otherToken = try JSONDecoder().decode(TokenPair.self, from: Data(other.output.utf8)).accessToken
        let db = folder.path("a.sqlite")
        try python(db, "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT); INSERT INTO notes VALUES (1, 'a'), (2, 'b');")
        #expect(try ferry(["track", "--db", db, "notes"]).status == 0)

        // Before any sync: no space yet.
        let fresh = try ferry(["status", "--db", db])
        #expect(fresh.status == 0)
        #expect(fresh.output.contains("none synced yet"), "\(fresh.output)")
        let sync = ["sync", "--db", db, "--server", server.baseURL, "--space", "notes"]
        #expect(try ferry(sync + ["--token", token]).status == 0)

        let table = try ferry(["status", "--db", db])
        #expect(table.status == 0)
        let lines = table.output.split(separator: "\n").map(String.init)
        let header = try #require(lines.first { $0.hasPrefix("SPACE") })
        #expect(
            header.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                == "SPACE CURSOR HEAD LAG OUTBOX DEAD LETTERS CONFLICTS LAST SUCCESS PHASE REASON",
            "\(table.output)"
        )
        let row = try #require(lines.first { $0.hasPrefix("notes ") }).split(separator: " ", omittingEmptySubsequences: true)
        #expect(Array(row.prefix(7)) == ["notes", "2", "2", "0", "0", "0", "0"], "\(table.output)")
        #expect(Array(row.suffix(2)) == ["healthy", "-"], "\(table.output)")

        let json = try ferry(["status", "--db", db, "--json"])
        let object = try #require(try JSONValue(parsing: json.output).objectValue)
        #expect(object["pending"] == .int(0))
        let cursor = try #require(Self.first(object["cursors"]))
        #expect(cursor["space"] == .string("notes") && cursor["last_seq"] == .int(2))
        let space = try #require(Self.first(object["spaces"]))
        #expect(space["head_seq"] == .int(2) && space["lag"] == .int(0) && space["phase"] == .string("healthy"))
        #expect(space["reason"] == .null)

        // A healthy database and a good token: exit 0.
        let doctor = ["doctor", "--db", db, "--server", server.baseURL]
        let healthy = try ferry(doctor + ["--token", token])
        #expect(healthy.status == 0, "\(healthy.output)")
        #expect(healthy.output.split(separator: "\n").first?.hasPrefix("CHECK") == true)
        for check in ["triggers notes", "outbox", "dead letters", "conflicts", "lease", "last sync notes", "server", "token", "clock skew"]
        {
            #expect(healthy.output.contains(check), "\(check): \(healthy.output)")
        }
        #expect(!healthy.output.contains(" fail "), "\(healthy.output)")
        let report = try #require(try JSONValue(parsing: try ferry(doctor + ["--token", token, "--json"]).output).objectValue)
        #expect(report["status"] == .string("ok") || report["status"] == .string("warn"), "\(report)")
        #expect(Self.items(report["checks"]).count == 9, "\(report)")

        // A wrong token, and one of another space: the token check fails, exit status 1.
        let wrong = try ferry(doctor + ["--token", "wrong"])
        #expect(wrong.status == 1, "\(wrong.output)")
        #expect(wrong.output.contains("401"), "\(wrong.output)")
        #expect(wrong.output.contains("ferry token create"))
        let forbidden = try ferry(doctor + ["--token", otherToken])
        #expect(forbidden.status == 1, "\(forbidden.output)")
        #expect(forbidden.output.contains("403"), "\(forbidden.output)")
        let unreachable = try ferry(["doctor", "--db", db, "--server", "http://127.0.0.1:9", "--token", token])
        #expect(unreachable.status == 1, "\(unreachable.output)")
        #expect(unreachable.output.contains("does not answer"))

        // A sync refused for its token shows in the status.
        #expect(try ferry(sync + ["--token", "wrong"]).status != 0)
        let failed = try #require(try JSONValue(parsing: try ferry(["status", "--db", db, "--json"]).output).objectValue)
        let failedSpace = try #require(Self.first(failed["spaces"]))
        #expect(failedSpace["phase"] == .string("backoff"), "\(failed)")
        #expect(failedSpace["reason"] == .string("auth_required"), "\(failed)")
        #expect(failedSpace["last_success_at"] != .null)

        // A trigger dropped by another program: the doctor fails and names the fix.
        try python(db, "DROP TRIGGER ferry_notes_update;")
        let broken = try ferry(["doctor", "--db", db])
        #expect(broken.status == 1, "\(broken.output)")
        #expect(broken.output.contains("missing ferry_notes_update"), "\(broken.output)")
        #expect(broken.output.contains("ferry track --db"))
        #expect(try ferry(["doctor", "--db", folder.path("missing.sqlite")]).status != 0)
        try await server.stop(signal: SIGTERM)
    }

    /// The items of a JSON array; none for anything else.
    static func items(_ value: JSONValue?) -> [JSONValue] {
        guard case .array(let items)? = value else { return [] }
        return items
    }

    /// The first object of a JSON array.
    static func first(_ value: JSONValue?) -> [String: JSONValue]? {
        items(value).first?.objectValue
    }
}
