import FerryCore
import FerryServer
import FerryTestSupport
import Foundation
import NIOHTTP1
import Testing
import Yams

/// One value of one query parameter, sent to an operation beside valid other parameters.
struct ParameterCase: Sendable, CustomTestStringConvertible {
    var method: HTTPMethod
    var path: String
    var parameter: String
    var value: String
    /// The other parameters of the request, valid.
    var rest: String

    var testDescription: String { "\(method) \(path) \(parameter)=\(value.debugDescription)" }
}

/// One request body sent to an operation.
struct BodyCase: Sendable, CustomTestStringConvertible {
    var path: String
    var body: String

    var testDescription: String { "POST \(path) \(body)" }
}

private let pull = "/sync/mutations/pull"
private let since0 = "space=notes&since_seq=0"
private let device = "space=notes&device_id=d"

/// The document's schema of a query parameter of an operation.
private func parameterSchema(_ parameter: String, of method: HTTPMethod, _ path: String) throws -> (OpenAPISchemaValidator, Any) {
    let document = try #require(try Yams.load(yaml: OpenAPIDocument.yaml) as? [String: Any])
    let validator = OpenAPISchemaValidator(document: document)
    let paths = try #require(document["paths"] as? [String: Any])
    let operation = try #require((paths[path] as? [String: Any])?[method.rawValue.lowercased()] as? [String: Any])
    let parameters = (operation["parameters"] as? [Any] ?? []).compactMap { validator.dereference($0) }
    let declared = try #require(parameters.first { $0["name"] as? String == parameter }, "\(path) has no parameter \(parameter)")
    return (validator, try #require(declared["schema"]))
}

/// The problems of a query parameter's text against its schema: a number schema reads the
/// text as a JSON number, and text that is not one is a problem of its own.
private func problems(of text: String, against schema: Any, _ validator: OpenAPISchemaValidator) -> [String] {
    let type = validator.dereference(schema)?["type"] as? String
    guard type == "integer" || type == "number" else { return validator.problems(of: .string(text), against: schema) }
    guard let number = try? JSONValue(parsing: Data(text.utf8)) else { return ["\(text.debugDescription) is not a number"] }
    return validator.problems(of: number, against: schema)
}

/// The document's schema of an operation's JSON request body.
private func bodySchema(of path: String) throws -> (OpenAPISchemaValidator, Any) {
    let document = try #require(try Yams.load(yaml: OpenAPIDocument.yaml) as? [String: Any])
    let validator = OpenAPISchemaValidator(document: document)
    let paths = try #require(document["paths"] as? [String: Any])
    let operation = try #require((paths[path] as? [String: Any])?["post"] as? [String: Any])
    let content = (operation["requestBody"] as? [String: Any])?["content"] as? [String: Any]
    return (validator, try #require((content?["application/json"] as? [String: Any])?["schema"]))
}

private func encoded(_ value: String) -> String {
    value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value
}

/// The OpenAPI document is as strict as the server: a value the server refuses as a whole
/// request (`400`), the document's schema refuses too, and a value the schema admits, the
/// server accepts. So a client generated from the document refuses what the server refuses.
@Suite struct OpenAPIStrictnessTests {
    @Test(arguments: [
        ParameterCase(method: .GET, path: pull, parameter: "space", value: "Notes", rest: "since_seq=0"),
        ParameterCase(method: .GET, path: pull, parameter: "space", value: "", rest: "since_seq=0"),
        ParameterCase(method: .GET, path: pull, parameter: "space", value: String(repeating: "a", count: 65), rest: "since_seq=0"),
        ParameterCase(method: .GET, path: pull, parameter: "exclude_device", value: "", rest: since0),
        ParameterCase(method: .GET, path: pull, parameter: "exclude_device", value: "dév", rest: since0),
        ParameterCase(method: .GET, path: pull, parameter: "exclude_device", value: "a\tb", rest: since0),
        ParameterCase(method: .GET, path: pull, parameter: "exclude_device", value: String(repeating: "d", count: 129), rest: since0),
        ParameterCase(method: .GET, path: pull, parameter: "since_seq", value: "-1", rest: "space=notes"),
        ParameterCase(method: .GET, path: pull, parameter: "since_seq", value: "1.5", rest: "space=notes"),
        ParameterCase(method: .GET, path: pull, parameter: "since_seq", value: "99999999999999999999", rest: "space=notes"),
        ParameterCase(method: .GET, path: pull, parameter: "limit", value: "0", rest: since0),
        ParameterCase(method: .GET, path: pull, parameter: "limit", value: "2.5", rest: since0),
        ParameterCase(method: .GET, path: pull, parameter: "wait", value: "-1", rest: since0),
        ParameterCase(method: .GET, path: pull, parameter: "wait", value: "61", rest: since0),
        ParameterCase(method: .GET, path: pull, parameter: "wait", value: "nan", rest: since0),
        ParameterCase(method: .GET, path: "/sync/pull", parameter: "space", value: "no tes", rest: ""),
        ParameterCase(method: .GET, path: "/sync/ack", parameter: "device_id", value: "", rest: "space=notes"),
        ParameterCase(method: .GET, path: "/sync/ack", parameter: "device_id", value: "ü", rest: "space=notes"),
        ParameterCase(method: .DELETE, path: "/sync/ack", parameter: "types", value: "", rest: device),
        ParameterCase(method: .DELETE, path: "/sync/ack", parameter: "types", value: "note,,task", rest: device),
        ParameterCase(method: .DELETE, path: "/sync/ack", parameter: "types", value: "no|te", rest: device),
        ParameterCase(method: .POST, path: "/sync/push", parameter: "session_id", value: "", rest: device),
    ])
    func theDocumentRefusesWhatTheServerRefuses(_ refused: ParameterCase) async throws {
        let (validator, schema) = try parameterSchema(refused.parameter, of: refused.method, refused.path)
        #expect(!problems(of: refused.value, against: schema, validator).isEmpty, "the document admits it")

        let answer = try await TestServer.inProcess { server in
            let query = [refused.rest, "\(refused.parameter)=\(encoded(refused.value))"].filter { !$0.isEmpty }.joined(separator: "&")
            let headers = [("X-Chunk-Id", String(repeating: "0", count: 64))]
            return try await server.request(
                refused.method,
                "\(refused.path)?\(query)",
                token: try await server.token("notes"),
                headers: headers
            )
        }
        #expect(answer.status == 400, "\(answer.text)")
        #expect(answer.errorCode == "bad_request")
    }

    @Test(arguments: [
        ParameterCase(method: .GET, path: pull, parameter: "exclude_device", value: " ~", rest: since0),
        ParameterCase(method: .GET, path: pull, parameter: "exclude_device", value: String(repeating: "d", count: 128), rest: since0),
        ParameterCase(
            method: .GET,
            path: pull,
            parameter: "space",
            value: "n0._-" + String(repeating: "a", count: 59),
            rest: "since_seq=0"
        ),
        ParameterCase(method: .GET, path: pull, parameter: "limit", value: "5001", rest: since0),
        ParameterCase(method: .GET, path: pull, parameter: "wait", value: "0.5", rest: since0),
        ParameterCase(method: .GET, path: "/sync/ack", parameter: "device_id", value: "a+b&c=d", rest: "space=notes"),
        ParameterCase(method: .DELETE, path: "/sync/ack", parameter: "types", value: "note,Task.v2,SyncComplete", rest: device),
    ])
    func theServerAcceptsWhatTheDocumentAdmits(_ accepted: ParameterCase) async throws {
        let (validator, schema) = try parameterSchema(accepted.parameter, of: accepted.method, accepted.path)
        let found = problems(of: accepted.value, against: schema, validator)
        #expect(found.isEmpty, "\(found)")

        let answer = try await TestServer.inProcess { server in
            let query = [accepted.rest, "\(accepted.parameter)=\(encoded(accepted.value))"].joined(separator: "&")
            let spaces = accepted.parameter == "space" ? [accepted.value, "notes"] : ["notes"]
            let token = try await server.tokens.issue(spaces: spaces, accessTTL: 60).accessToken
            return try await server.request(accepted.method, "\(accepted.path)?\(query)", token: token)
        }
        #expect((200..<300).contains(answer.status), "\(answer.status) \(answer.text)")
    }

    @Test(arguments: [
        BodyCase(path: "/sync/mutations/push", body: #"{"space":"notes","device_id":"dév","session_id":"s","mutations":[]}"#),
        BodyCase(path: "/sync/mutations/push", body: #"{"space":"notes","device_id":"d","session_id":"","mutations":[]}"#),
        BodyCase(path: "/sync/mutations/push", body: #"{"space":"notes","device_id":"d\u0001","session_id":"s","mutations":[]}"#),
        BodyCase(path: "/sync/mutations/push", body: #"{"space":"no/tes","device_id":"d","session_id":"s","mutations":[]}"#),
        BodyCase(path: "/sync/stream", body: #"{"space":"notes","device_id":"d","types":[]}"#),
        BodyCase(path: "/sync/stream", body: #"{"space":"notes","device_id":"d","types":["1note"]}"#),
        BodyCase(path: "/sync/stream", body: #"{"space":"notes","device_id":"\u00e9","types":["note"]}"#),
        BodyCase(path: "/sync/ack", body: #"{"space":"notes","device_id":"d","acks":[]}"#),
        BodyCase(path: "/sync/ack", body: #"{"space":"notes","device_id":"d","acks":["note|01"]}"#),
        BodyCase(path: "/sync/ack", body: #"{"space":"notes","device_id":"d","acks":["note|0"]}"#),
        BodyCase(path: "/sync/ack", body: #"{"space":"notes","device_id":"d","acks":["SyncReset|1"]}"#),
        BodyCase(path: "/sync/ack", body: #"{"space":"notes","device_id":"d","acks":["note|1|2"]}"#),
        BodyCase(path: "/sync/ack", body: #"{"space":"notes","device_id":"","acks":["SyncReset|0"]}"#),
    ])
    func theDocumentRefusesTheBodiesTheServerRefuses(_ refused: BodyCase) async throws {
        let (validator, schema) = try bodySchema(of: refused.path)
        #expect(!validator.problems(of: try JSONValue(parsing: Data(refused.body.utf8)), against: schema).isEmpty, "the document admits it")

        let answer = try await TestServer.inProcess { server in
            try await server.request(.POST, refused.path, token: try await server.token("notes"), body: Data(refused.body.utf8))
        }
        #expect(answer.status == 400, "\(answer.text)")
        #expect(answer.errorCode == "bad_request")
    }

    @Test(arguments: [
        #"{}"#, #"{"spaces":[]}"#, #"{"spaces":["Notes"]}"#, #"{"spaces":["notes"],"ttl":0}"#,
        #"{"spaces":["notes"],"ttl":31536001}"#, #"{"spaces":["notes"],"ttl":null}"#, #"{"spaces":["notes"],"ttl":1.5}"#,
        #"{"spaces":null}"#,
    ])
    func theDocumentRefusesTheAdminBodiesTheServerRefuses(body: String) async throws {
        let (validator, schema) = try bodySchema(of: "/admin/tokens")
        #expect(!validator.problems(of: try JSONValue(parsing: Data(body.utf8)), against: schema).isEmpty, "the document admits it")
        let answer = try await TestServer.inProcess { server in
            let admin = try await server.tokens.issue(spaces: [], accessTTL: 60, admin: true).accessToken
            return try await server.request(.POST, "/admin/tokens", token: admin, body: Data(body.utf8))
        }
        #expect(answer.status == 400, "\(answer.text)")
        #expect(answer.errorCode == "bad_request")
    }

    @Test(arguments: [
        #"{"spaces":["notes","notes","n0._-"],"ttl":31536000}"#, #"{"spaces":["notes"],"ttl":1}"#,
    ])
    func theServerAcceptsTheAdminBodiesTheDocumentAdmits(body: String) async throws {
        let (validator, schema) = try bodySchema(of: "/admin/tokens")
        let found = validator.problems(of: try JSONValue(parsing: Data(body.utf8)), against: schema)
        #expect(found.isEmpty, "\(found)")
        let answer = try await TestServer.inProcess { server in
            let admin = try await server.tokens.issue(spaces: [], accessTTL: 60, admin: true).accessToken
            return try await server.request(.POST, "/admin/tokens", token: admin, body: Data(body.utf8))
        }
        #expect(answer.status == 201, "\(answer.text)")
    }

    /// The served document names the limits of the server that serves it.
    @Test func theServedDocumentNamesTheServersLimits() async throws {
        let configuration = ServerConfiguration(maxMutationsPerPush: 7, maxWaitSeconds: 2, maxAcksPerRequest: 9)
        let served = try await TestServer.inProcess(configuration: configuration) { server in
            try await server.request(.GET, "/openapi.yaml")
        }
        #expect(served.text == OpenAPIDocument.yaml(for: configuration))
        let document = try #require(try Yams.load(yaml: served.text) as? [String: Any])
        let validator = OpenAPISchemaValidator(document: document)
        let (_, wait) = try parameterSchema("wait", of: .GET, pull)
        #expect(validator.dereference(wait)?["maximum"] as? Int == 60, "the default document allows 60 s")
        let schemas = (document["components"] as? [String: Any])?["schemas"] as? [String: Any]
        let push = (schemas?["PushRequest"] as? [String: Any])?["properties"] as? [String: Any]
        #expect((push?["mutations"] as? [String: Any])?["maxItems"] as? Int == 7)
        let ack = (schemas?["AckRequest"] as? [String: Any])?["properties"] as? [String: Any]
        #expect((ack?["acks"] as? [String: Any])?["maxItems"] as? Int == 9)
        #expect(served.text.contains("maximum: 2}"), "the longest wait is the server's")
        #expect(!served.text.contains("8080"), "the document names no fixed port")
    }
}
