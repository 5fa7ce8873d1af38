import FerryCore
import FerryServer
import FerryTestSupport
import Foundation
import NIOHTTP1
import Testing
import Yams

@Suite struct OperationsHTTPTests {
    @Test func healthzAnswersOk() async throws {
        try await TestServer.with { server in
            let answer = try await server.request(.GET, "/healthz")
            #expect(answer.status == 200)
            #expect(answer.text.contains(#""status":"ok""#))
        }
    }

    @Test func metricsCountRequestsAndMutations() async throws {
        try await TestServer.with { server in
            let token = try await server.token("notes")
            _ = try await server.push(.make(space: "notes", [.upsert(1, key: "a"), .upsert(2, key: "b")]), token: token)
            _ = try await server.push(.make(space: "notes", [.upsert(1, key: "a")]), token: token)
            let answer = try await server.request(.GET, "/metrics")
            #expect(answer.status == 200)
            let text = answer.text
            #expect(text.contains("ferry_mutations_accepted_total 2"))
            #expect(text.contains("ferry_mutations_duplicate_total 1"))
            #expect(text.contains(#"ferry_http_requests_total{method="POST",route="/sync/mutations/push",status="200"} 2"#))
            #expect(text.contains("ferry_http_request_duration_seconds"))
            #expect(text.contains("ferry_longpoll_waiters"))
        }
    }

    /// Every path and method the OpenAPI document lists is served: none answers the
    /// unknown-route 404.
    @Test func everyDocumentedRouteAnswers() async throws {
        try await TestServer.with { server in
            let answer = try await server.request(.GET, "/openapi.yaml")
            #expect(answer.status == 200)
            let document = try #require(try Yams.load(yaml: answer.text) as? [String: Any])
            #expect((document["openapi"] as? String)?.hasPrefix("3.") == true)
            let paths = try #require(document["paths"] as? [String: Any])
            #expect(paths.count >= 6)
            for (path, item) in paths {
                let operations = try #require(item as? [String: Any])
                for method in operations.keys {
                    let answer = try await server.request(HTTPMethod(rawValue: method.uppercased()), path, body: Data("{}".utf8))
                    #expect(answer.errorCode != "not_found", "\(method) \(path) is documented but not served")
                    #expect(answer.status != 404, "\(method) \(path)")
                }
            }
        }
    }
}
