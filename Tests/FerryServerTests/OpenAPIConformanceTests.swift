import FerryCore
import FerryServer
import FerryTestSupport
import Foundation
import NIOHTTP1
import Testing
import Yams

/// One response the OpenAPI document promises: an operation and one of its statuses.
struct DocumentedResponse: Sendable, Hashable, CustomTestStringConvertible {
    var method: String
    var path: String
    var status: String

    var testDescription: String { "\(method) \(path) \(status)" }
}

/// The document the server serves, parsed.
private func loadDocument() throws -> [String: Any] {
    try #require(try Yams.load(yaml: OpenAPIDocument.yaml) as? [String: Any], "the OpenAPI document is not a mapping")
}

/// Every (operation, status) the document lists.
private func documentedResponses() -> [DocumentedResponse] {
    guard let paths = (try? loadDocument())?["paths"] as? [String: Any] else { return [] }
    var responses: [DocumentedResponse] = []
    for (path, item) in paths {
        for (method, operation) in item as? [String: Any] ?? [:] {
            for status in ((operation as? [String: Any])?["responses"] as? [String: Any] ?? [:]).keys {
                responses.append(DocumentedResponse(method: method.uppercased(), path: path, status: status))
            }
        }
    }
    return responses.sorted { $0.testDescription < $1.testDescription }
}

/// Requests that make the server answer one status of one operation.
private typealias Provocation = @Sendable (TestServer) async throws -> HTTPAnswer

private let pushPath = "/sync/mutations/push"
private let notesPush = Data(
    #"{"space":"notes","device_id":"d","session_id":"s","mutations":[{"client_action_id":1,"entity":"note","entity_key":"k","op":"upsert","payload":{"x":1}}]}"#
        .utf8
)

private let notesStream = Data(#"{"space":"notes","device_id":"d","types":["note"]}"#.utf8)
private let notesAck = Data(#"{"space":"notes","device_id":"d","acks":["note|1","SyncComplete|1"]}"#.utf8)

/// A bulk chunk of two mutations for space notes, and its id.
private let bulkBody = Data(
    (#"{"client_action_id":1,"entity":"note","entity_key":"a","op":"upsert","payload":{"t":1}}"# + "\n"
        + #"{"client_action_id":2,"entity":"note","entity_key":"b","op":"fly","payload":{}}"# + "\n").utf8
)
private let bulkPath = "/sync/push?space=notes&device_id=d&session_id=import"
private let bulkHeaders = [("X-Chunk-Id", SnapshotChunker.chunkID(of: Array(bulkBody))), ("Content-Type", "application/x-ndjson")]

/// Pushes two records to space notes and publishes a snapshot of them; answers its first chunk id.
private func snapshotOfNotes(_ server: TestServer, token: String) async throws -> String {
    let body = #"""
        {"space":"notes","device_id":"d","session_id":"s","mutations":[
         {"client_action_id":1,"entity":"note","entity_key":"n1","op":"upsert","payload":{"title":"a","n":null}},
         {"client_action_id":2,"entity":"note","entity_key":"n1","op":"patch","payload":{"title":"b","x":[1]}},
         {"client_action_id":3,"entity":"task","entity_key":"t1","op":"upsert","payload":{}}]}
        """#
    #expect(try await server.request(.POST, pushPath, token: token, body: Data(body.utf8)).status == 200)
    let built = try #require(try await SnapshotBuilder(store: server.eventLog, policy: SnapshotPolicy()).build(space: "notes"))
    return try #require(built.manifest.chunks.first?.id)
}

/// An admin token of `server`.
private func adminToken(_ server: TestServer) async throws -> String {
    try await server.tokens.issue(spaces: [], accessTTL: 3600, admin: true).accessToken
}

/// Fills every part of the console's answers for space notes: two devices that push, one that
/// pulls naming itself, a conflict, and stream checkpoints.
private func activityOfNotes(_ server: TestServer) async throws {
    let token = try await server.token("notes")
    _ = try await server.push(.make(space: "notes", device: "A", [.upsert(1, key: "n1", baseSeq: 0)]), token: token)
    _ = try await server.push(.make(space: "notes", device: "B", [.upsert(1, key: "n1", baseSeq: 0)]), token: token)
    #expect(try await server.pull("space=notes&since_seq=0&exclude_device=B", token: token).status == 200)
    #expect(try await server.request(.POST, "/sync/ack", token: token, body: notesAck).status == 204)
}

private let provocations: [String: Provocation] = [
    "POST /sync/mutations/push 200": { server in
        let token = try await server.token("notes")
        _ = try await server.push(.make(space: "notes", device: "A", [.upsert(1, key: "n1", baseSeq: 0)]), token: token)
        // Device B: an accepted mutation that conflicts with A's, the same triple again (a
        // duplicate), and an invalid one: every part of the answer is filled.
        let body = #"""
            {"space":"notes","device_id":"B","session_id":"s","mutations":[
             {"client_action_id":1,"entity":"note","entity_key":"n1","op":"patch","payload":{"t":1},"base_seq":0,
              "client_timestamp":"2026-11-22T10:00:00Z"},
             {"client_action_id":1,"entity":"note","entity_key":"n1","op":"patch","payload":{"t":1},"base_seq":0},
             {"client_action_id":2,"entity":"note","entity_key":"n2","op":"frobnicate","payload":{}}]}
            """#
        let answer = try await server.request(.POST, pushPath, token: token, body: Data(body.utf8))
        let response = try answer.decode(PushResponse.self)
        #expect(response.acks.count == 1 && response.conflicts.count == 1)
        #expect(Set(response.rejected.map(\.reason)) == [.duplicate, .invalid])
        return answer
    },
    "POST /sync/mutations/push 400": { server in
        try await server.request(.POST, pushPath, token: try await server.token("notes"), body: Data("{".utf8))
    },
    "POST /sync/mutations/push 401": { server in
        try await server.request(.POST, pushPath, body: notesPush)
    },
    "POST /sync/mutations/push 403": { server in
        try await server.request(.POST, pushPath, token: try await server.token("other"), body: notesPush)
    },
    "POST /sync/mutations/push 415": { server in
        let headers = [("Content-Encoding", "compress")]
        return try await server.request(.POST, pushPath, token: try await server.token("notes"), body: notesPush, headers: headers)
    },
    "POST /sync/mutations/push 413": { server in
        let big = MutationInput(
            clientActionID: 1,
            entity: "note",
            entityKey: "big",
            op: .upsert,
            payload: .object(["body": .string(String(repeating: "x", count: 2000))])
        )
        return try await server.push(.make(space: "notes", [big]), token: try await server.token("notes"))
    },
    "POST /sync/mutations/push 503": { server in
        let token = try await server.token("notes")
        server.outage.set(down: true)
        return try await server.request(.POST, pushPath, token: token, body: notesPush)
    },
    "GET /sync/mutations/pull 200": { server in
        let token = try await server.token("notes")
        let body = #"""
            {"space":"notes","device_id":"d","session_id":"s","mutations":[
             {"client_action_id":1,"entity":"note","entity_key":"n1","op":"upsert","payload":{"title":"a","tags":["x"],"n":null},
              "base_seq":0,"client_timestamp":"2026-11-22T10:00:00Z"},
             {"client_action_id":2,"entity":"note","entity_key":"n1","op":"delete"}]}
            """#
        #expect(try await server.request(.POST, pushPath, token: token, body: Data(body.utf8)).status == 200)
        let answer = try await server.pull("space=notes&since_seq=0", token: token)
        #expect(try answer.decode(PullResponse.self).mutations.count == 2)
        return answer
    },
    "GET /sync/mutations/pull 400": { server in
        try await server.pull("space=notes", token: try await server.token("notes"))
    },
    "GET /sync/mutations/pull 401": { server in
        try await server.request(.GET, "/sync/mutations/pull?space=notes&since_seq=0")
    },
    "GET /sync/mutations/pull 403": { server in
        try await server.pull("space=notes&since_seq=0", token: try await server.token("other"))
    },
    "GET /sync/mutations/pull 409": { server in
        try await server.pull("space=notes&since_seq=5", token: try await server.token("notes"))
    },
    "GET /sync/mutations/pull 503": { server in
        let token = try await server.token("notes")
        server.outage.set(down: true)
        return try await server.pull("space=notes&since_seq=0", token: token)
    },
    "GET /sync/mutations/pull 410": { server in
        let token = try await server.token("notes")
        _ = try await snapshotOfNotes(server, token: token)
        #expect(try await server.eventLog.prune(space: "notes", through: 3, dryRun: false).floorAfter == 3)
        return try await server.pull("space=notes&since_seq=1", token: token)
    },
    "GET /sync/mutations/pull 429": { server in
        // The server of this test holds no long-poll (`maxLongPollsPerToken` 0).
        try await server.pull("space=notes&since_seq=0&wait=5", token: try await server.token("notes"))
    },
    // The live channel's refusals: an in-process server cannot switch protocols, so the
    // route answers the plain GET as it answers a refused upgrade.
    "GET /sync/mutations/live 400": { server in
        try await server.request(.GET, "/sync/mutations/live?space=notes", token: try await server.token("notes"))
    },
    "GET /sync/mutations/live 401": { server in
        try await server.request(.GET, "/sync/mutations/live?space=notes&since_seq=0")
    },
    "GET /sync/mutations/live 403": { server in
        try await server.request(.GET, "/sync/mutations/live?space=notes&since_seq=0", token: try await server.token("other"))
    },
    "GET /sync/mutations/live 409": { server in
        try await server.request(.GET, "/sync/mutations/live?space=notes&since_seq=5", token: try await server.token("notes"))
    },
    "GET /sync/mutations/live 503": { server in
        let token = try await server.token("notes")
        server.outage.set(down: true)
        return try await server.request(.GET, "/sync/mutations/live?space=notes&since_seq=0", token: token)
    },
    "GET /sync/mutations/live 410": { server in
        let token = try await server.token("notes")
        _ = try await snapshotOfNotes(server, token: token)
        #expect(try await server.eventLog.prune(space: "notes", through: 3, dryRun: false).floorAfter == 3)
        return try await server.request(.GET, "/sync/mutations/live?space=notes&since_seq=1", token: token)
    },
    "GET /sync/mutations/live 429": { server in
        // The server of this test holds no long-poll, and so no live channel (`maxLongPollsPerToken` 0).
        try await server.request(.GET, "/sync/mutations/live?space=notes&since_seq=0", token: try await server.token("notes"))
    },
    "GET /sync/pull 200": { server in
        let token = try await server.token("notes")
        _ = try await snapshotOfNotes(server, token: token)
        return try await server.request(.GET, "/sync/pull?space=notes", token: token)
    },
    "GET /sync/pull 400": { server in
        try await server.request(.GET, "/sync/pull", token: try await server.token("notes"))
    },
    "GET /sync/pull 401": { server in
        try await server.request(.GET, "/sync/pull?space=notes")
    },
    "GET /sync/pull 403": { server in
        try await server.request(.GET, "/sync/pull?space=notes", token: try await server.token("other"))
    },
    "GET /sync/pull 503": { server in
        let token = try await server.token("notes")
        server.outage.set(down: true)
        return try await server.request(.GET, "/sync/pull?space=notes", token: token)
    },
    "GET /sync/pull/{chunk_id} 200": { server in
        let token = try await server.token("notes")
        let id = try await snapshotOfNotes(server, token: token)
        let answer = try await server.request(.GET, "/sync/pull/\(id)", token: token)
        #expect(answer.headers["ETag"].first == "\"\(id)\"")
        #expect(answer.headers["Cache-Control"].first?.contains("immutable") == true)
        #expect(answer.headers["Content-Length"].first == String(answer.body.count))
        #expect(SnapshotChunker.chunkID(of: Array(answer.body)) == id)
        return answer
    },
    "GET /sync/pull/{chunk_id} 304": { server in
        let token = try await server.token("notes")
        let id = try await snapshotOfNotes(server, token: token)
        return try await server.request(.GET, "/sync/pull/\(id)", token: token, headers: [("If-None-Match", "\"\(id)\"")])
    },
    "GET /sync/pull/{chunk_id} 401": { server in
        try await server.request(.GET, "/sync/pull/\(String(repeating: "a", count: 64))")
    },
    "GET /sync/pull/{chunk_id} 404": { server in
        let token = try await server.token("notes")
        let id = try await snapshotOfNotes(server, token: token)
        // A chunk of another space is not confirmed.
        return try await server.request(.GET, "/sync/pull/\(id)", token: try await server.token("other"))
    },
    "GET /sync/pull/{chunk_id} 503": { server in
        let token = try await server.token("notes")
        server.outage.set(down: true)
        return try await server.request(.GET, "/sync/pull/\(String(repeating: "a", count: 64))", token: token)
    },
    "POST /sync/push 200": { server in
        let token = try await server.token("notes")
        let answer = try await server.request(.POST, bulkPath, token: token, body: bulkBody, headers: bulkHeaders)
        let response = try answer.decode(PushResponse.self)
        #expect(response.acks.map(\.seq) == [1] && response.rejected.map(\.reason) == [.invalid])
        let again = try await server.request(.POST, bulkPath, token: token, body: bulkBody, headers: bulkHeaders)
        #expect(try again.decode(PushResponse.self).rejected.map(\.seq) == [1, nil], "a chunk sent again stores nothing new")
        return answer
    },
    "POST /sync/push 400": { server in
        let headers = [("X-Chunk-Id", String(repeating: "0", count: 64))]
        return try await server.request(.POST, bulkPath, token: try await server.token("notes"), body: bulkBody, headers: headers)
    },
    "POST /sync/push 401": { server in
        try await server.request(.POST, bulkPath, body: bulkBody, headers: bulkHeaders)
    },
    "POST /sync/push 403": { server in
        try await server.request(.POST, bulkPath, token: try await server.token("other"), body: bulkBody, headers: bulkHeaders)
    },
    "POST /sync/push 413": { server in
        let big = Data(count: 5000)
        let headers = [("X-Chunk-Id", SnapshotChunker.chunkID(of: Array(big)))]
        return try await server.request(.POST, bulkPath, token: try await server.token("notes"), body: big, headers: headers)
    },
    "POST /sync/push 415": { server in
        let headers = bulkHeaders + [("Content-Encoding", "br")]
        return try await server.request(.POST, bulkPath, token: try await server.token("notes"), body: bulkBody, headers: headers)
    },
    "POST /sync/push 503": { server in
        let token = try await server.token("notes")
        server.outage.set(down: true)
        return try await server.request(.POST, bulkPath, token: token, body: bulkBody, headers: bulkHeaders)
    },
    "POST /sync/stream 200": { server in
        let token = try await server.token("notes")
        _ = try await server.push(.make(space: "notes", [.upsert(1, key: "a"), .upsert(2, key: "b")]), token: token)
        return try await server.request(.POST, "/sync/stream", token: token, body: notesStream)
    },
    "POST /sync/stream 400": { server in
        try await server.request(.POST, "/sync/stream", token: try await server.token("notes"), body: Data(#"{"space":"notes"}"#.utf8))
    },
    "POST /sync/stream 401": { server in
        try await server.request(.POST, "/sync/stream", body: notesStream)
    },
    "POST /sync/stream 403": { server in
        try await server.request(.POST, "/sync/stream", token: try await server.token("other"), body: notesStream)
    },
    "POST /sync/stream 413": { server in
        try await server.request(.POST, "/sync/stream", token: try await server.token("notes"), body: Data(count: 70_000))
    },
    "POST /sync/stream 415": { server in
        let headers = [("Content-Encoding", "br")]
        return try await server.request(.POST, "/sync/stream", token: try await server.token("notes"), body: notesStream, headers: headers)
    },
    "POST /sync/stream 503": { server in
        let token = try await server.token("notes")
        server.outage.set(down: true)
        return try await server.request(.POST, "/sync/stream", token: token, body: notesStream)
    },
    "POST /sync/ack 204": { server in
        let token = try await server.token("notes")
        _ = try await server.push(.make(space: "notes", [.upsert(1, key: "a")]), token: token)
        return try await server.request(.POST, "/sync/ack", token: token, body: notesAck)
    },
    "POST /sync/ack 400": { server in
        try await server.request(.POST, "/sync/ack", token: try await server.token("notes"), body: notesAck)
    },
    "POST /sync/ack 401": { server in
        try await server.request(.POST, "/sync/ack", body: notesAck)
    },
    "POST /sync/ack 403": { server in
        try await server.request(.POST, "/sync/ack", token: try await server.token("other"), body: notesAck)
    },
    "POST /sync/ack 413": { server in
        try await server.request(.POST, "/sync/ack", token: try await server.token("notes"), body: Data(count: 70_000))
    },
    "POST /sync/ack 503": { server in
        let token = try await server.token("notes")
        server.outage.set(down: true)
        return try await server.request(.POST, "/sync/ack", token: token, body: notesAck)
    },
    "GET /sync/ack 200": { server in
        let token = try await server.token("notes")
        _ = try await server.push(.make(space: "notes", [.upsert(1, key: "a")]), token: token)
        _ = try await server.request(.POST, "/sync/ack", token: token, body: notesAck)
        return try await server.request(.GET, "/sync/ack?space=notes&device_id=d", token: token)
    },
    "GET /sync/ack 400": { server in
        try await server.request(.GET, "/sync/ack?space=notes", token: try await server.token("notes"))
    },
    "GET /sync/ack 401": { server in
        try await server.request(.GET, "/sync/ack?space=notes&device_id=d")
    },
    "GET /sync/ack 403": { server in
        try await server.request(.GET, "/sync/ack?space=notes&device_id=d", token: try await server.token("other"))
    },
    "GET /sync/ack 503": { server in
        let token = try await server.token("notes")
        server.outage.set(down: true)
        return try await server.request(.GET, "/sync/ack?space=notes&device_id=d", token: token)
    },
    "DELETE /sync/ack 204": { server in
        try await server.request(.DELETE, "/sync/ack?space=notes&device_id=d&types=note", token: try await server.token("notes"))
    },
    "DELETE /sync/ack 400": { server in
        try await server.request(.DELETE, "/sync/ack?space=notes&device_id=d&types=no|te", token: try await server.token("notes"))
    },
    "DELETE /sync/ack 401": { server in
        try await server.request(.DELETE, "/sync/ack?space=notes&device_id=d")
    },
    "DELETE /sync/ack 403": { server in
        try await server.request(.DELETE, "/sync/ack?space=notes&device_id=d", token: try await server.token("other"))
    },
    "DELETE /sync/ack 503": { server in
        let token = try await server.token("notes")
        server.outage.set(down: true)
        return try await server.request(.DELETE, "/sync/ack?space=notes&device_id=d", token: token)
    },
    "POST /auth/refresh 200": { server in
        let issued = try await server.tokens.issue(spaces: ["notes"], accessTTL: 60)
        return try await server.request(.POST, "/auth/refresh", body: Data(#"{"refresh_token":"\#(issued.refreshToken)"}"#.utf8))
    },
    "POST /auth/refresh 400": { server in
        try await server.request(.POST, "/auth/refresh", body: Data("{}".utf8))
    },
    "POST /auth/refresh 401": { server in
        try await server.request(.POST, "/auth/refresh", body: Data(#"{"refresh_token":"frt_unknown"}"#.utf8))
    },
    "POST /auth/refresh 413": { server in
        let huge = String(repeating: "x", count: 70_000)
        return try await server.request(.POST, "/auth/refresh", body: Data(#"{"refresh_token":"\#(huge)"}"#.utf8))
    },
    "POST /admin/tokens 201": { server in
        try await server.request(
            .POST,
            "/admin/tokens",
            token: try await adminToken(server),
            body: Data(#"{"spaces":["notes"],"ttl":60}"#.utf8)
        )
    },
    "POST /admin/tokens 400": { server in
        try await server.request(.POST, "/admin/tokens", token: try await adminToken(server), body: Data(#"{"spaces":[]}"#.utf8))
    },
    "POST /admin/tokens 401": { server in
        try await server.request(.POST, "/admin/tokens", body: Data(#"{"spaces":["notes"]}"#.utf8))
    },
    "POST /admin/tokens 403": { server in
        try await server.request(.POST, "/admin/tokens", token: try await server.token("notes"), body: Data(#"{"spaces":["notes"]}"#.utf8))
    },
    "POST /admin/tokens 413": { server in
        let many = Array(repeating: #""notes""#, count: 10_000).joined(separator: ",")
        return try await server.request(
            .POST,
            "/admin/tokens",
            token: try await adminToken(server),
            body: Data(#"{"spaces":[\#(many)]}"#.utf8)
        )
    },
    "GET /admin/tokens 200": { server in
        let admin = try await adminToken(server)
        let revoked = try await server.tokens.issue(spaces: ["notes"], accessTTL: 60)
        #expect(try await server.tokens.revoke(grantID: revoked.grantID))
        return try await server.request(.GET, "/admin/tokens", token: admin)
    },
    "GET /admin/tokens 401": { server in
        try await server.request(.GET, "/admin/tokens")
    },
    "GET /admin/tokens 403": { server in
        try await server.request(.GET, "/admin/tokens", token: try await server.token("notes"))
    },
    "DELETE /admin/tokens/{grant_id} 204": { server in
        let grant = try await server.tokens.issue(spaces: ["notes"], accessTTL: 60).grantID
        return try await server.request(.DELETE, "/admin/tokens/\(grant)", token: try await adminToken(server))
    },
    "DELETE /admin/tokens/{grant_id} 401": { server in
        try await server.request(.DELETE, "/admin/tokens/g_x")
    },
    "DELETE /admin/tokens/{grant_id} 403": { server in
        try await server.request(.DELETE, "/admin/tokens/g_x", token: try await server.token("notes"))
    },
    "DELETE /admin/tokens/{grant_id} 404": { server in
        try await server.request(.DELETE, "/admin/tokens/g_x", token: try await adminToken(server))
    },
    "GET /admin/spaces 200": { server in
        _ = try await activityOfNotes(server)
        return try await server.request(.GET, "/admin/spaces?limit=1", token: try await adminToken(server))
    },
    "GET /admin/spaces 400": { server in
        try await server.request(.GET, "/admin/spaces?limit=0", token: try await adminToken(server))
    },
    "GET /admin/spaces 401": { server in
        try await server.request(.GET, "/admin/spaces")
    },
    "GET /admin/spaces 403": { server in
        try await server.request(.GET, "/admin/spaces", token: try await server.token("notes"))
    },
    "GET /admin/spaces 503": { server in
        let admin = try await adminToken(server)
        server.outage.set(down: true)
        return try await server.request(.GET, "/admin/spaces", token: admin)
    },
    "GET /admin/spaces/{space} 200": { server in
        _ = try await activityOfNotes(server)
        return try await server.request(.GET, "/admin/spaces/notes", token: try await adminToken(server))
    },
    "GET /admin/spaces/{space} 400": { server in
        try await server.request(.GET, "/admin/spaces/No_Space", token: try await adminToken(server))
    },
    "GET /admin/spaces/{space} 401": { server in
        try await server.request(.GET, "/admin/spaces/notes")
    },
    "GET /admin/spaces/{space} 403": { server in
        try await server.request(.GET, "/admin/spaces/notes", token: try await server.token("notes"))
    },
    "GET /admin/spaces/{space} 404": { server in
        try await server.request(.GET, "/admin/spaces/notes", token: try await adminToken(server))
    },
    "GET /admin/spaces/{space} 503": { server in
        let admin = try await adminToken(server)
        server.outage.set(down: true)
        return try await server.request(.GET, "/admin/spaces/notes", token: admin)
    },
    "GET /admin/conflicts 200": { server in
        _ = try await activityOfNotes(server)
        return try await server.request(.GET, "/admin/conflicts", token: try await adminToken(server))
    },
    "GET /admin/conflicts 400": { server in
        try await server.request(.GET, "/admin/conflicts?limit=x", token: try await adminToken(server))
    },
    "GET /admin/conflicts 401": { server in
        try await server.request(.GET, "/admin/conflicts")
    },
    "GET /admin/conflicts 403": { server in
        try await server.request(.GET, "/admin/conflicts", token: try await server.token("notes"))
    },
    "GET /admin/health 200": { server in
        _ = try await activityOfNotes(server)
        return try await server.request(.GET, "/admin/health", token: try await adminToken(server))
    },
    "GET /admin/health 401": { server in
        try await server.request(.GET, "/admin/health")
    },
    "GET /admin/health 403": { server in
        try await server.request(.GET, "/admin/health", token: try await server.token("notes"))
    },
    "GET /admin/health 503": { server in
        let admin = try await adminToken(server)
        server.outage.set(down: true)
        return try await server.request(.GET, "/admin/health", token: admin)
    },
    "GET /console 200": { server in
        try await server.request(.GET, "/console")
    },
    "GET /console/console.js 200": { server in
        try await server.request(.GET, "/console/console.js")
    },
    "GET /console/console.css 200": { server in
        try await server.request(.GET, "/console/console.css")
    },
    "GET /healthz 200": { server in
        try await server.request(.GET, "/healthz")
    },
    "GET /healthz 503": { server in
        server.outage.set(down: true)
        return try await server.request(.GET, "/healthz")
    },
    "GET /metrics 200": { server in
        try await server.request(.GET, "/metrics")
    },
    "GET /openapi.yaml 200": { server in
        try await server.request(.GET, "/openapi.yaml")
    },
]

/// The error codes each status may carry (PROTOCOL.md, "Errors").
private let errorCodes: [Int: Set<String>] = [
    400: ["bad_request"], 401: ["unauthorized"], 403: ["forbidden"], 404: ["not_found"], 409: ["cursor_ahead", "conflict"],
    410: ["history_pruned"], 413: ["payload_too_large"], 415: ["unsupported_media_type"], 429: ["rate_limited"], 500: ["internal"],
    503: ["unavailable"],
]

/// The OpenAPI document checked against what the server really answers: every documented
/// status of every operation is provoked from a server, and its body is validated against
/// the documented schema.
@Suite struct OpenAPIConformanceTests {
    /// Small limits, so that a `413` takes a small request, and a `429` a single long-poll.
    private static let small = ServerConfiguration(
        maxBodyBytes: 64 << 10,
        maxMutationsPerPush: 10,
        maxPayloadBytes: 1024,
        bulkMaxBytes: 4096,
        maxLongPollsPerToken: 0
    )

    @Test(arguments: documentedResponses())
    func theServerAnswersAsDocumented(_ response: DocumentedResponse) async throws {
        let provoke = try #require(provocations[response.testDescription], "no request of this test provokes \(response)")
        let answer = try await TestServer.inProcess(configuration: Self.small) { server in try await provoke(server) }
        #expect(answer.status == Int(response.status), "\(answer.text)")

        let validator = OpenAPISchemaValidator(document: try loadDocument())
        let operation = validator.document["paths"].flatMap { ($0 as? [String: Any])?[response.path] as? [String: Any] }
        let responses = operation?[response.method.lowercased()].flatMap { ($0 as? [String: Any])?["responses"] as? [String: Any] }
        let documented = try #require(validator.dereference(responses?[response.status]))
        #expect(documented["description"] is String, "every response has a description")
        for (name, header) in documented["headers"] as? [String: Any] ?? [:] {
            let header = try #require(validator.dereference(header))
            let value = answer.headers[name].first
            if header["required"] as? Bool == true { #expect(value != nil, "the documented header \(name) is missing") }
            if let value, let schema = validator.dereference(header["schema"]), schema["type"] as? String == "integer" {
                let number = try #require(Int64(value), "\(name): \(value) is not an integer")
                #expect(validator.problems(of: .int(number), against: schema).isEmpty, "\(name): \(value)")
            }
        }

        guard let content = documented["content"] as? [String: Any] else {
            #expect(answer.body.isEmpty, "no content is documented, but the body is \(answer.text)")
            return
        }
        let contentType = try #require(answer.headers["Content-Type"].first, "the answer has no Content-Type")
        let mediaType = String(contentType.split(separator: ";")[0]).trimmingCharacters(in: .whitespaces)
        let media = try #require(content[mediaType] as? [String: Any], "answered \(mediaType), documented \(content.keys.sorted())")
        let schema = media["schema"]
        if mediaType == "application/json" {
            let body = try JSONValue(parsing: answer.body)
            let problems = validator.problems(of: body, against: schema)
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n")) in \(answer.text)")
            if answer.status >= 400, response.path != "/healthz" {
                let code = try #require(answer.errorCode, "an error answer without an error code")
                #expect(errorCodes[answer.status]?.contains(code) == true, "\(answer.status) with code \(code)")
            }
        } else if mediaType == "application/x-ndjson" {
            let lines = answer.body.split(separator: UInt8(ascii: "\n"))
            #expect(!lines.isEmpty && answer.body.last == UInt8(ascii: "\n"), "an NDJSON body ends each line with a newline")
            for line in lines {
                let problems = validator.problems(of: try JSONValue(parsing: line), against: schema)
                #expect(problems.isEmpty, "\(problems.joined(separator: "\n")) in \(String(decoding: line, as: UTF8.self))")
            }
        } else {
            #expect(validator.dereference(schema)?["type"] as? String == "string")
            #expect(String(validating: answer.body, as: UTF8.self) != nil, "a \(mediaType) body that is not UTF-8")
        }
    }

    /// The statuses this suite can provoke are exactly the documented ones: a status the
    /// server answers that the document leaves out shows up here.
    @Test func everyProvokedStatusIsDocumented() {
        let documented = Set(documentedResponses().map(\.testDescription))
        #expect(documented.count >= 20)
        let provoked = Set(provocations.keys)
        #expect(provoked.subtracting(documented).isEmpty, "answered but not documented: \(provoked.subtracting(documented).sorted())")
        #expect(documented.subtracting(provoked).isEmpty, "documented but not provoked: \(documented.subtracting(provoked).sorted())")
    }

    /// The document served at `/openapi.yaml` is the one checked here, and it parses.
    @Test func theServedDocumentIsTheCheckedOne() async throws {
        let served = try await TestServer.inProcess { server in try await server.request(.GET, "/openapi.yaml") }
        #expect(served.text == OpenAPIDocument.yaml)
        let document = try loadDocument()
        #expect((document["openapi"] as? String)?.hasPrefix("3.0") == true)
    }

    /// The validator itself finds what it is meant to find.
    @Test(arguments: [
        (#"{"error":{"code":"bad_request","message":"m"}}"#, 0),
        (#"{"error":{"code":"bad_request"}}"#, 1),
        (#"{"error":{"code":"nope","message":"m"}}"#, 1),
        (#"{"error":{"code":"bad_request","message":3}}"#, 1),
        (#"{"error":{"code":"bad_request","message":"m"},"extra":1}"#, 1),
        (#"{"error":null}"#, 1),
        (#"[]"#, 1),
    ])
    func theValidatorFindsWhatIsWrong(body: String, problemCount: Int) throws {
        let validator = OpenAPISchemaValidator(document: try loadDocument())
        let problems = validator.problems(
            of: try JSONValue(parsing: body),
            against: ["$ref": "#/components/schemas/Error"] as [String: Any]
        )
        #expect(problems.count == problemCount, "\(problems)")
    }

    @Test func theValidatorChecksFormatsRangesAndUnknownKeywords() throws {
        let validator = OpenAPISchemaValidator(document: try loadDocument())
        let mutation = ["$ref": "#/components/schemas/LoggedMutation"] as [String: Any]
        let good =
            #"{"seq":1,"device_id":"d","session_id":"s","client_action_id":1,"entity":"note","entity_key":"k","op":"upsert","occurred_at":"2026-11-22T10:01:00.120Z"}"#
        #expect(validator.problems(of: try JSONValue(parsing: good), against: mutation).isEmpty)
        let badTime = good.replacingOccurrences(of: "2026-11-22T10:01:00.120Z", with: "yesterday")
        #expect(validator.problems(of: try JSONValue(parsing: badTime), against: mutation).count == 1)
        let badOp = good.replacingOccurrences(of: "upsert", with: "frobnicate")
        #expect(validator.problems(of: try JSONValue(parsing: badOp), against: mutation).count == 1)
        #expect(validator.problems(of: .int(0), against: ["type": "integer", "minimum": 1] as [String: Any]).count == 1)
        #expect(validator.problems(of: .double(1.5), against: ["type": "integer"] as [String: Any]).count == 1)
        #expect(validator.problems(of: .null, against: ["type": "string", "nullable": true] as [String: Any]).isEmpty)
        #expect(validator.problems(of: .string("x"), against: ["type": "string", "frobnicate": true] as [String: Any]).count == 1)
        #expect(
            validator.problems(of: .string("x"), against: ["oneOf": [["type": "string"], ["type": "integer"]]] as [String: Any]).isEmpty
        )
        #expect(validator.problems(of: .null, against: ["oneOf": [["type": "string"], ["type": "integer"]]] as [String: Any]).count == 1)
    }
}
