import FerryCore
import FerryServer
import FerryTestSupport
import Foundation
import NIOHTTP1
import Testing

@Suite struct BadInputHTTPTests {
    private static let small = ServerConfiguration(maxBodyBytes: 64 << 10, maxMutationsPerPush: 10, maxPayloadBytes: 1024)

    @Test(arguments: [
        ("not json", "{"),
        ("empty body", ""),
        (
            "wrong type",
            #"{"space":"notes","device_id":"d","session_id":"s","mutations":[{"client_action_id":"one","entity":"note","entity_key":"k","op":"upsert","payload":{}}]}"#
        ),
        ("missing field", #"{"space":"notes","device_id":"d","mutations":[]}"#),
        ("mutations not an array", #"{"space":"notes","device_id":"d","session_id":"s","mutations":{}}"#),
        ("bad space", #"{"space":"Notes!","device_id":"d","session_id":"s","mutations":[]}"#),
        ("bad device", #"{"space":"notes","device_id":"","session_id":"s","mutations":[]}"#),
        (
            "too many mutations",
            #"{"space":"notes","device_id":"d","session_id":"s","mutations":[\#((1...11).map { #"{"client_action_id":\#($0),"entity":"n","entity_key":"k","op":"delete"}"# }.joined(separator: ","))]}"#
        ),
    ])
    func malformedPushesGet400AndStoreNothing(name: String, body: String) async throws {
        try await TestServer.inProcess(configuration: Self.small) { server in
            let token = try await server.token("notes")
            let answer = try await server.request(.POST, "/sync/mutations/push", token: token, body: Data(body.utf8))
            #expect(answer.status == 400, "\(name): \(answer.text)")
            #expect(answer.errorCode == "bad_request")
            #expect(try await server.storedMutationCount() == 0)
            // The server keeps serving.
            let ok = try await server.push(.make(space: "notes", [.upsert(1, key: "a")]), token: token)
            #expect(ok.status == 200)
        }
    }

    @Test func oversizedBodiesAndPayloadsGet413AndStoreNothing() async throws {
        try await TestServer.inProcess(configuration: Self.small) { server in
            let token = try await server.token("notes")
            // A payload over the limit inside a body under it.
            let big = MutationInput(
                clientActionID: 2,
                entity: "note",
                entityKey: "big",
                op: .upsert,
                payload: .object(["body": .string(String(repeating: "x", count: 2000))])
            )
            let payloadAnswer = try await server.push(.make(space: "notes", [.upsert(1, key: "a"), big]), token: token)
            #expect(payloadAnswer.status == 413)
            #expect(payloadAnswer.errorCode == "payload_too_large")

            // A body over the limit.
            let huge = MutationInput(
                clientActionID: 3,
                entity: "note",
                entityKey: "huge",
                op: .upsert,
                payload: .object(["body": .string(String(repeating: "y", count: 100 << 10))])
            )
            let bodyAnswer = try await server.push(.make(space: "notes", [huge]), token: token)
            #expect(bodyAnswer.status == 413)
            #expect(bodyAnswer.errorCode == "payload_too_large")
            #expect(try await server.storedMutationCount() == 0)

            let ok = try await server.push(.make(space: "notes", [.upsert(1, key: "a")]), token: token)
            #expect(ok.status == 200)
        }
    }

    @Test func aPayloadOverOneMebibyteIsRefusedByDefault() async throws {
        try await TestServer.inProcess { server in
            let token = try await server.token("notes")
            let big = MutationInput(
                clientActionID: 1,
                entity: "note",
                entityKey: "big",
                op: .upsert,
                payload: .object(["body": .string(String(repeating: "z", count: 1 << 20))])
            )
            let answer = try await server.push(.make(space: "notes", [big]), token: token)
            #expect(answer.status == 413)
            #expect(answer.errorCode == "payload_too_large")
            #expect(try await server.storedMutationCount() == 0)
        }
    }

    /// Found by the schema fuzzing's probes: `wait=0x10` was read as a hexadecimal number
    /// (16 s) and held the pull, where the document allows only a decimal number.
    @Test(arguments: ["0x10", "0X1p2", "+1", "1_0", "inf", "nan", "1,5", " 1"])
    func aWaitThatIsNotADecimalNumberGets400(wait: String) async throws {
        try await TestServer.inProcess { server in
            let token = try await server.token("notes")
            let encoded = wait.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? wait
            let answer = try await server.pull("space=notes&since_seq=0&wait=\(encoded)", token: token)
            #expect(answer.status == 400, "\(wait): \(answer.text)")
            #expect(answer.errorCode == "bad_request")
        }
    }

    @Test(arguments: ["0", "0.25", "1e-3", "2.5E-1", "-0"])
    func aDecimalWaitIsHeld(wait: String) async throws {
        try await TestServer.inProcess { server in
            let token = try await server.token("notes")
            let answer = try await server.pull("space=notes&since_seq=0&wait=\(wait)", token: token)
            #expect(answer.status == 200, "\(wait): \(answer.text)")
        }
    }

    @Test func unknownRoutesGetTheErrorBody() async throws {
        try await TestServer.inProcess { server in
            for (method, path) in [(HTTPMethod.GET, "/nope"), (.GET, "/sync/nope"), (.DELETE, "/sync/mutations/push"), (.GET, "/")] {
                let answer = try await server.request(method, path)
                #expect(answer.status == 404, "\(method) \(path)")
                #expect(answer.errorCode == "not_found")
            }
        }
    }
}
