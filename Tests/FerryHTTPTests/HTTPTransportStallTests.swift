import FerryCore
import FerryHTTP
import FerryTestSupport
import Testing

/// A server that stalls: the transport gives up within its request timeout instead of
/// waiting forever.
@Suite(.tags(.realTime)) struct HTTPTransportStallTests {
    /// Runs `body` with a transport whose request timeout is 500 ms, to a test server
    /// through a proxy that applies `fault` to the first request on `path`.
    private func throughProxy(
        _ fault: ProxyFault,
        on path: String,
        _ body: (HTTPTransport, TestServer, String, FaultProxy) async throws -> Void
    ) async throws {
        try await TestServer.with { server in
            let token = try await server.token("notes")
            let upstream = Int(server.http.baseURL.split(separator: ":").last ?? "") ?? 0
            try await FaultProxy.with(upstreamPort: upstream, plan: .script([fault], onlyFor: path)) { proxy in
                let transport = HTTPTransport(
                    configuration: HTTPTransportConfiguration(
                        baseURL: proxy.baseURL,
                        accessToken: token,
                        requestTimeout: .milliseconds(500)
                    )
                )
                try await using(transport) { transport in try await body(transport, server, token, proxy) }
            }
        }
    }

    /// Regression: AsyncHTTPClient's deadline ends when the answer's head arrives, and the
    /// transport read the body without a limit, so this pull never returned.
    @Test func aPullWhoseBodyStallsFailsAsTransientWithinTheRequestTimeout() async throws {
        try await throughProxy(.stallBody(keeping: 5), on: "/sync/mutations/pull") { transport, server, token, proxy in
            let mutations = (1...20).map { MutationInput.upsert(Int64($0), key: "k\($0)") }
            #expect(try await server.push(.make(space: "notes", device: "other", mutations), token: token).status == 200)
            let start = ContinuousClock.now
            let error = await transportError {
                try await transport.pull(space: "notes", since: 0, limit: nil, excludeDevice: nil, wait: nil)
            }
            let elapsed = ContinuousClock.now - start
            #expect(error?.kind == .transient, "\(String(describing: error))")
            #expect(elapsed >= .milliseconds(450) && elapsed < .seconds(3), "gave up after \(elapsed)")
            #expect(proxy.records.first?.struck == true)
            // The next pull, on a new connection, reads the page.
            let page = try await transport.pull(space: "notes", since: 0, limit: nil, excludeDevice: nil, wait: nil)
            #expect(page.mutations.map(\.seq) == Array(1...20))
        }
    }

    @Test func aPushThatTheServerNeverAnswersFailsAsTransientWithinTheRequestTimeout() async throws {
        try await throughProxy(.stallBeforeAnswer, on: "/sync/mutations/push") { transport, server, token, proxy in
            let start = ContinuousClock.now
            let error = await transportError { try await transport.push(.make(space: "notes", [.upsert(1, key: "a")])) }
            let elapsed = ContinuousClock.now - start
            #expect(error?.kind == .transient, "\(String(describing: error))")
            #expect(elapsed >= .milliseconds(450) && elapsed < .seconds(3), "gave up after \(elapsed)")
            #expect(proxy.records.first?.fault == .stallBeforeAnswer)
            let stored = try await server.storedMutationCount()
            #expect(stored == 0)
        }
    }
}
