import FerryCore
import FerryServer
import FerryTestSupport
import NIOHTTP1
import Testing

@Suite struct OperationsHTTPTests {
    @Test func healthzAnswersOk() async throws {
        try await TestServer.inProcess { server in
            let answer = try await server.request(.GET, "/healthz")
            #expect(answer.status == 200)
            #expect(answer.text.contains(#""status":"ok""#))
        }
    }

    @Test func metricsCountRequestsAndMutations() async throws {
        try await TestServer.inProcess { server in
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
}
