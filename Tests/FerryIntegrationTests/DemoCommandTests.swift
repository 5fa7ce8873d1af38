import FerryCore
import FerryTestSupport
import Foundation
import Testing

/// `ferry demo` tells a true story: its `--json` steps are checked for the facts (who pushed
/// and pulled what, what merged, which conflict was recorded, that both devices converge),
/// not for the narration's wording.
@Suite(.serialized, .tags(.realTime)) struct DemoCommandTests {
    /// The steps `ferry demo --json` printed, by name.
    private func steps(_ output: String) throws -> [(String, [String: JSONValue])] {
        try output.split(separator: "\n").map { line in
            let object = try #require(try JSONDecoder().decode(JSONValue.self, from: Data(line.utf8)).objectValue)
            guard case .string(let step)? = object["step"] else {
                Issue.record("a line without a step: \(line)")
                return ("", object)
            }
            return (step, object)
        }
    }

    /// The notes of one device in a step: `[id: "title | body"]`.
    private func notes(_ step: [String: JSONValue], _ device: String) -> [String: String] {
        guard case .array(let rows)? = step[device] else { return [:] }
        var notes: [String: String] = [:]
        for row in rows {
            guard case .string(let id)? = row.objectValue?["id"], case .string(let title)? = row.objectValue?["title"],
                case .string(let body)? = row.objectValue?["body"]
            else { continue }
            notes[id] = "\(title) | \(body)"
        }
        return notes
    }

    @Test func theStoryIsTrue() throws {
        let folder = try TemporaryFolder()
        let result = try ferry(["demo", "--json", "--keep", folder.path("demo")])
        #expect(result.status == 0, "\(result.output)")
        let story = try steps(result.output)
        #expect(
            story.map(\.0) == [
                "server_started", "devices_ready", "phone_wrote", "laptop_pulled", "offline_edits", "merged", "conflict_recorded",
                "resolved", "done",
            ]
        )
        let step = Dictionary(story, uniquingKeysWith: { first, _ in first })

        #expect(
            step["server_started"]?["url"].flatMap { if case .string(let url) = $0 { url.hasPrefix("http://127.0.0.1:") } else { nil } }
                == true
        )
        #expect(step["phone_wrote"]?["pushed"] == .int(2))
        #expect(step["laptop_pulled"]?["pulled"] == .int(2))
        let pulled = try #require(step["laptop_pulled"])
        #expect(notes(pulled, "laptop") == ["n1": "Groceries | milk", "n2": "Trip | pack bags"])
        #expect(notes(pulled, "phone") == notes(pulled, "laptop"))

        // Offline, the devices differ.
        let offline = try #require(step["offline_edits"])
        #expect(notes(offline, "phone") == ["n1": "Shopping | milk", "n2": "Trip to Lisbon | pack bags"])
        #expect(notes(offline, "laptop") == ["n1": "Groceries | milk, eggs", "n2": "Trip to Porto | pack bags"])

        // Back online: different fields of n1 are both kept; the later title of n2 wins.
        let merged = try #require(step["merged"])
        #expect(merged["converged"] == .bool(true))
        #expect(notes(merged, "phone") == ["n1": "Shopping | milk, eggs", "n2": "Trip to Porto | pack bags"])
        #expect(notes(merged, "laptop") == notes(merged, "phone"))

        // The same-field conflict is recorded with both versions.
        let conflict = try #require(step["conflict_recorded"]?["conflict"]?.objectValue)
        #expect(conflict["note"] == .string("n2"))
        #expect(conflict["field"] == .string("title"))
        #expect(conflict["local"] == .string("Trip to Porto"))
        #expect(conflict["remote"] == .string("Trip to Lisbon"))
        #expect(conflict["resolution"] == .string("local_wins"))

        // Resolved for the remote version: both converge on it, nothing left open.
        let resolved = try #require(step["resolved"])
        #expect(resolved["converged"] == .bool(true))
        #expect(resolved["conflicts"] == .int(0))
        #expect(notes(resolved, "phone") == ["n1": "Shopping | milk, eggs", "n2": "Trip to Lisbon | pack bags"])
        #expect(notes(resolved, "laptop") == notes(resolved, "phone"))

        // --keep leaves both databases, with the same notes, for sqlite3.
        let rows = { (name: String) in
            try runProgram(
                "/usr/bin/env",
                [
                    "python3", "-c",
                    "import sqlite3, sys\nprint(list(sqlite3.connect(sys.argv[1]).execute('SELECT * FROM notes ORDER BY id')))",
                    folder.path("demo/\(name).sqlite"),
                ]
            ).output
        }
        #expect(try rows("phone") == rows("laptop"))
        #expect(try rows("phone").contains("Trip to Lisbon"))
    }

    @Test func theNarrationEndsWithTheCommandsToDoItForReal() throws {
        let result = try ferry(["demo"])
        #expect(result.status == 0, "\(result.output)")
        for command in ["ferry serve", "ferry track", "ferry sync", "ferry status"] { #expect(result.output.contains(command)) }
        #expect(!result.output.contains("{\"step\""))
    }
}
