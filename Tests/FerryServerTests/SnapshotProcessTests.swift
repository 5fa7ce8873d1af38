import AsyncHTTPClient
import FerryCore
import FerryTestSupport
import Foundation
import NIOHTTP1
import Testing

/// Snapshots, retention and their commands through `ferry serve` and `ferry snapshot` /
/// `ferry prune` children, as an operator runs them.
@Suite(.serialized, .tags(.realTime)) struct SnapshotProcessTests {
    /// Polls `condition` every 50 ms for up to `seconds`: the background builder runs on the
    /// server's own clock.
    private func eventually(seconds: Int = 20, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    @Test func aSnapshotFollowsEachPushAndRetentionPrunesBelowIt() async throws {
        let folder = try TemporaryFolder()
        try await FerryTestClient.withHTTPClient { client in
            let server = try await ServerProcess(
                arguments: ["--data", folder.path("data"), "--snapshot-every", "1", "--retain-mutations", "2", "--snapshot-keep", "1h"]
            )
            let token = try #require(server.printedValue(after: "access token:"))
            let http = FerryTestClient(baseURL: server.baseURL, client: client)
            let mutations = (1...5).map { MutationInput.upsert(Int64($0), key: "k\($0 % 3)") }
            #expect(try await http.push(.make(space: "default", mutations), token: token).status == 200)
            var manifest = SnapshotManifest(logID: "", snapshotSeq: 0, floorSeq: 0, chunks: [])
            #expect(
                try await eventually {
                    manifest = try SnapshotManifest(
                        json: Array(try await http.request(.GET, "/sync/pull?space=default", token: token).body)
                    )
                    return manifest.snapshotSeq == 5 && manifest.floorSeq == 3
                },
                "the snapshot follows the push and retention keeps 2 mutations: \(manifest)"
            )
            #expect(manifest.records == 3)
            let pruned = try await http.pull("space=default&since_seq=0", token: token)
            #expect(pruned.status == 410)
            #expect(pruned.errorCode == "history_pruned")
            #expect((try JSONValue(parsing: pruned.body).objectValue?["floor_seq"]) == .int(3))
            let page = try await http.pull("space=default&since_seq=3", token: token).decode(PullResponse.self)
            #expect(page.mutations.map(\.seq) == [4, 5])
            #expect(page.floorSeq == 3)

            // /healthz needs no token, so it names no space; /metrics has the largest logs.
            let health = try JSONValue(parsing: try await http.request(.GET, "/healthz").body)
            #expect(health == .object(["status": .string("ok")]))
            let metrics = try await http.request(.GET, "/metrics").text
            #expect(metrics.contains(#"ferry_log_floor_seq{space="default"} 3"#))
            #expect(metrics.contains(#"ferry_log_mutations{space="default"} 2"#))
            #expect(metrics.contains(#"ferry_snapshot_seq{space="default"} 5"#))
            #expect(metrics.contains("ferry_spaces 1"))
            #expect(metrics.contains("ferry_snapshots_built_total"))
            #expect(try await server.stop(signal: SIGTERM) == 0)
        }
    }

    @Test func ferrySnapshotAndFerryPruneWorkBesideTheServer() async throws {
        let folder = try TemporaryFolder()
        let data = folder.path("data")
        try await FerryTestClient.withHTTPClient { client in
            let server = try await ServerProcess(arguments: ["--data", data, "--snapshot-every", "0"])
            let token = try #require(server.printedValue(after: "access token:"))
            let http = FerryTestClient(baseURL: server.baseURL, client: client)
            let mutations = (1...10).map { MutationInput.upsert(Int64($0), key: "k\($0)") }
            #expect(try await http.push(.make(space: "default", mutations), token: token).status == 200)

            let early = try ferry(["prune", "--data", data, "--space", "default", "--through", "5"])
            #expect(early.status == 0)
            #expect(early.output.contains("nothing to prune"), "no snapshot yet: \(early.output)")

            let built = try ferry(["snapshot", "--data", data, "--space", "default", "--json"])
            #expect(built.status == 0, "\(built.output)")
            let report = try JSONValue(parsing: built.output).objectValue
            #expect(report?["snapshot_seq"] == .int(10))
            #expect(report?["records"] == .int(10))

            let dry = try ferry(["prune", "--data", data, "--space", "default", "--retain-mutations", "4"])
            #expect(dry.status == 0)
            #expect(dry.output.contains("would delete 6 mutations"), "\(dry.output)")
            #expect(try await http.pull("space=default&since_seq=0", token: token).status == 200, "a dry run deletes nothing")

            let applied = try ferry(["prune", "--data", data, "--space", "default", "--through", "6", "--apply", "--json"])
            #expect(applied.status == 0, "\(applied.output)")
            #expect(try JSONValue(parsing: applied.output).objectValue?["floor_after"] == .int(6))
            #expect(try await http.pull("space=default&since_seq=5", token: token).status == 410)
            // A retried push of a pruned mutation still gets its first seq.
            let retried = try await http.push(.make(space: "default", [mutations[0]]), token: token).decode(PushResponse.self)
            #expect(retried.rejected.first?.reason == .duplicate)
            #expect(retried.rejected.first?.seq == 1)

            let bad = try ferry(["prune", "--data", data, "--space", "default"])
            #expect(bad.status != 0)
            #expect(bad.output.contains("--through"))
            #expect(try await server.stop(signal: SIGTERM) == 0)
        }
    }
}
