import FerryCore
import FerryServer
import FerryTestSupport
import Foundation
import GRDB
import NIOHTTP1
import Testing

/// A space name or a device id of odd characters or extreme length is refused with `400
/// bad_request` and the error body on every route that takes one, before the token's scope
/// is looked at, and nothing is stored.
@Suite struct OddNamesHTTPTests {
    static let oddSpaces = [
        "", "Notes", "no tes", "../etc", "notes/x", "ä", "a\u{0}b", "-notes", "%2F", "\u{202E}", String(repeating: "a", count: 65),
        String(repeating: "a", count: 10_000),
    ]
    static let oddDevices = [
        "", "dév", "a\nb", "\u{7F}", "\u{0}", String(repeating: "d", count: 129), String(repeating: "d", count: 10_000),
    ]

    /// A JSON body from `object`, whatever the strings in it.
    private static func json(_ object: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: object)
    }

    private static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }

    /// Every route that names a space, with `space` and `device` in it.
    private static func routes(space: String, device: String) throws -> [(String, HTTPMethod, String, Data?, [(String, String)])] {
        let mutation: [String: Any] = ["client_action_id": 1, "entity": "note", "entity_key": "k", "op": "upsert", "payload": [:]]
        let line = Data(#"{"client_action_id":1,"entity":"note","entity_key":"k","op":"upsert","payload":{}}"#.utf8)
        let chunkID = SnapshotChunker.chunkID(of: Array(line))
        let (s, d) = (encoded(space), encoded(device))
        return [
            (
                "push", .POST, "/sync/mutations/push",
                try json(["space": space, "device_id": device, "session_id": "s", "mutations": [mutation]]), []
            ),
            ("pull", .GET, "/sync/mutations/pull?space=\(s)&since_seq=0&exclude_device=\(d)", nil, []),
            ("long-poll", .GET, "/sync/mutations/pull?space=\(s)&since_seq=0&wait=1&exclude_device=\(d)", nil, []),
            ("stream", .POST, "/sync/stream", try json(["space": space, "device_id": device, "types": ["note"]]), []),
            ("ack", .POST, "/sync/ack", try json(["space": space, "device_id": device, "acks": ["SyncReset|0"]]), []),
            ("checkpoints", .GET, "/sync/ack?space=\(s)&device_id=\(d)", nil, []),
            ("clear checkpoints", .DELETE, "/sync/ack?space=\(s)&device_id=\(d)", nil, []),
            ("manifest", .GET, "/sync/pull?space=\(s)", nil, []),
            ("bulk push", .POST, "/sync/push?space=\(s)&device_id=\(d)&session_id=s", line, [("X-Chunk-Id", chunkID)]),
        ]
    }

    @Test func oddSpaceNamesGet400OnEveryRoute() async throws {
        try await TestServer.with { server in
            let token = try await server.token("notes")
            for space in Self.oddSpaces {
                for (name, method, path, body, headers) in try Self.routes(space: space, device: "dev-a") {
                    let answer = try await server.request(method, path, token: token, body: body, headers: headers)
                    #expect(
                        answer.status == 400,
                        "\(name) with space \(space.debugDescription.prefix(40)): \(answer.status) \(answer.text.prefix(200))"
                    )
                    #expect(answer.errorCode == "bad_request", "\(name) with space \(space.debugDescription.prefix(40))")
                }
            }
            #expect(try await server.storedMutationCount() == 0)
            let spaces = try await server.database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM space") ?? 0 }
            #expect(spaces == 0)
        }
    }

    @Test func oddDeviceIDsGet400OnEveryRouteThatTakesOne() async throws {
        try await TestServer.with { server in
            let token = try await server.token("notes")
            for device in Self.oddDevices {
                for (name, method, path, body, headers) in try Self.routes(space: "notes", device: device) where name != "manifest" {
                    let answer = try await server.request(method, path, token: token, body: body, headers: headers)
                    #expect(
                        answer.status == 400,
                        "\(name) with device \(device.debugDescription.prefix(40)): \(answer.status) \(answer.text.prefix(200))"
                    )
                    #expect(answer.errorCode == "bad_request", "\(name) with device \(device.debugDescription.prefix(40))")
                }
            }
            #expect(try await server.storedMutationCount() == 0)
        }
    }
}
