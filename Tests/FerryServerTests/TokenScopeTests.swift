import FerryCore
import FerryServer
import FerryTestKit
import FerryTestSupport
import Foundation
import GRDB
import NIOHTTP1
import Testing

/// A token scoped to some spaces reads and writes only those, on every route: a seeded
/// random walk over the routes and spaces (`FERRY_SEED` replays one), over real HTTP.
@Suite struct TokenScopeTests {
    static let spaces = ["alpha", "beta", "gamma", "delta"]

    enum Route: CaseIterable {
        case push, pull, longPoll, stream, ack, checkpoints, clearCheckpoints, manifest, chunk, bulkPush
    }

    /// What an admin token sees of `space`: its log, two devices' checkpoints, its manifest.
    private static func state(of space: String, _ server: TestServer, admin: String) async throws -> [String] {
        var seen: [String] = []
        for path in [
            "/sync/mutations/pull?space=\(space)&since_seq=0&limit=5000", "/sync/ack?space=\(space)&device_id=d",
            "/sync/ack?space=\(space)&device_id=r", "/sync/pull?space=\(space)",
        ] {
            let answer = try await server.request(.GET, path, token: admin)
            seen.append("\(answer.status) \(answer.text)")
        }
        return seen
    }

    @Test func aTokenNeverReachesOutsideItsSpaces() async throws {
        let seed = ProcessInfo.processInfo.environment["FERRY_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
        print("TokenScopeTests seed \(seed) (FERRY_SEED=\(seed) replays it)")
        var random = SeededGenerator(seed: seed)
        try await TestServer.with { server in
            let admin = try await server.tokens.issue(spaces: Self.spaces, accessTTL: 3600).accessToken
            var chunks: [String: String] = [:]
            for space in Self.spaces {
                let mutations = (1...3).map { MutationInput.upsert(Int64($0), key: "k\($0)", title: "secret-\(space)-\($0)") }
                #expect(try await server.push(.make(space: space, device: "seed", mutations), token: admin).status == 200)
                let ack = Data(#"{"space":"\#(space)","device_id":"d","acks":["note|2"]}"#.utf8)
                #expect(try await server.request(.POST, "/sync/ack", token: admin, body: ack).status == 204)
                let built = try #require(try await SnapshotBuilder(store: server.eventLog, policy: SnapshotPolicy()).build(space: space))
                chunks[space] = try #require(built.manifest.chunks.first?.id)
            }
            let scope = Set(Self.spaces.shuffled(using: &random).prefix(Int.random(in: 1...3, using: &random)))
            let outside = Self.spaces.filter { !scope.contains($0) }
            let token = try await server.tokens.issue(spaces: scope.sorted(), accessTTL: 3600).accessToken
            print("TokenScopeTests scope \(scope.sorted()), outside \(outside)")
            var before: [String: [String]] = [:]
            for space in outside { before[space] = try await Self.state(of: space, server, admin: admin) }

            var actionID: Int64 = 0
            for step in 0..<150 {
                let space = (Self.spaces + ["epsilon"]).randomElement(using: &random)!
                let route = Route.allCases.randomElement(using: &random)!
                actionID += 1
                let line =
                    #"{"client_action_id":\#(actionID),"entity":"note","entity_key":"r\#(step)","op":"upsert","payload":{"t":"mine"}}"#
                let answer: HTTPAnswer
                switch route {
                case .push:
                    let body = #"{"space":"\#(space)","device_id":"r","session_id":"s","mutations":[\#(line)]}"#
                    answer = try await server.request(.POST, "/sync/mutations/push", token: token, body: Data(body.utf8))
                case .pull:
                    answer = try await server.pull("space=\(space)&since_seq=0", token: token)
                case .longPoll:
                    answer = try await server.pull("space=\(space)&since_seq=0&wait=1", token: token)
                case .stream:
                    let body = #"{"space":"\#(space)","device_id":"r","types":["note"]}"#
                    answer = try await server.request(.POST, "/sync/stream", token: token, body: Data(body.utf8))
                case .ack:
                    let body = #"{"space":"\#(space)","device_id":"r","acks":["note|1"]}"#
                    answer = try await server.request(.POST, "/sync/ack", token: token, body: Data(body.utf8))
                case .checkpoints:
                    answer = try await server.request(.GET, "/sync/ack?space=\(space)&device_id=r", token: token)
                case .clearCheckpoints:
                    answer = try await server.request(.DELETE, "/sync/ack?space=\(space)&device_id=r", token: token)
                case .manifest:
                    answer = try await server.request(.GET, "/sync/pull?space=\(space)", token: token)
                case .chunk:
                    let id = chunks[space] ?? String(repeating: "ab", count: 32)
                    answer = try await server.request(.GET, "/sync/pull/\(id)", token: token)
                case .bulkPush:
                    let body = Data(line.utf8)
                    answer = try await server.request(
                        .POST,
                        "/sync/push?space=\(space)&device_id=r&session_id=bulk-\(step)",
                        token: token,
                        body: body,
                        headers: [("X-Chunk-Id", SnapshotChunker.chunkID(of: Array(body)))]
                    )
                }
                let what = "seed \(seed) step \(step): \(route) in \(space)"
                if scope.contains(space) {
                    #expect((200...204).contains(answer.status), "\(what): \(answer.status) \(answer.text.prefix(200))")
                } else if route == .chunk {
                    #expect(answer.status == 404, "\(what): \(answer.status)")
                    #expect(answer.errorCode == "not_found", "\(what)")
                } else {
                    #expect(answer.status == 403, "\(what): \(answer.status)")
                    #expect(answer.errorCode == "forbidden", "\(what)")
                }
                for other in outside {
                    #expect(!answer.text.contains("secret-\(other)"), "\(what): the answer holds data of \(other)")
                }
            }

            for space in outside {
                #expect(try await Self.state(of: space, server, admin: admin) == before[space], "seed \(seed): \(space) changed")
            }
            let created = try await server.database.pool.read { db in try String.fetchAll(db, sql: "SELECT name FROM space ORDER BY name") }
            #expect(!created.contains("epsilon"), "seed \(seed): a refused request created a space")
        }
    }
}
