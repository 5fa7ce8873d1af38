import AsyncHTTPClient
import FerryCore
import FerryTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import FerryHTTP

/// How the transport classifies what goes wrong.
@Suite struct HTTPTransportErrorTests {
    @Test func serverRefusalsAreClassifiedByStatusAndCode() async throws {
        try await TestServer.with { server in
            let notes = try await server.token("notes")
            let other = try await server.token("other")
            try await using(server.transport(accessToken: notes)) { transport in
                _ = try await transport.push(.make(space: "notes", [.upsert(1, key: "a")]))

                let forbidden = await transportError {
                    try await transport.pull(space: "other", since: 0, limit: nil, excludeDevice: nil, wait: nil)
                }
                #expect(forbidden?.kind == .policyForbidden)
                #expect(forbidden?.status == 403)
                #expect(forbidden?.code == .forbidden)

                let ahead = await transportError {
                    try await transport.pull(space: "notes", since: 2, limit: nil, excludeDevice: nil, wait: nil)
                }
                #expect(ahead?.kind == .cursorAhead)
                #expect(ahead?.status == 409)
                #expect(ahead?.code == .cursorAhead)

                let badSpace = await transportError { try await transport.push(.make(space: "Bad!", [.upsert(1, key: "a")])) }
                #expect(badSpace?.kind == .permanent)
                #expect(badSpace?.status == 400)
                #expect(badSpace?.code == .badRequest)
                #expect(badSpace?.message.isEmpty == false)

                let badLimit = await transportError {
                    try await transport.pull(space: "notes", since: 0, limit: 0, excludeDevice: nil, wait: nil)
                }
                #expect(badLimit?.kind == .permanent)
                #expect(badLimit?.code == .badRequest)
            }
            try await using(server.transport(accessToken: other)) { transport in
                let forbidden = await transportError { try await transport.push(.make(space: "notes", [.upsert(2, key: "b")])) }
                #expect(forbidden?.kind == .policyForbidden)
            }
            #expect(try await server.storedMutationCount() == 1)
        }
    }

    @Test func aRefusedConnectionIsTransient() async throws {
        // Without AsyncHTTPClient's own retries, the refusal surfaces at once.
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let transport = HTTPTransport(
            configuration: HTTPTransportConfiguration(baseURL: "http://127.0.0.1:1", accessToken: "t", httpClient: client)
        )
        try await using(transport) { transport in
            let pull = await transportError {
                try await transport.pull(space: "notes", since: 0, limit: nil, excludeDevice: nil, wait: nil)
            }
            #expect(pull?.kind == .transient)
            #expect(pull?.status == nil)
            #expect(pull?.underlying != nil)
            let push = await transportError { try await transport.push(.make(space: "notes", [.upsert(1, key: "a")])) }
            #expect(push?.kind == .transient)
            #expect(push?.underlying != nil)
        }
        try await client.shutdown()
    }

    @Test func aRequestThatTimesOutIsTransient() async throws {
        // The transport's own client retries the connection until the request's deadline.
        let transport = HTTPTransport(
            configuration: HTTPTransportConfiguration(baseURL: "http://127.0.0.1:1", accessToken: "t", requestTimeout: .milliseconds(300))
        )
        try await using(transport) { transport in
            let pull = await transportError {
                try await transport.pull(space: "notes", since: 0, limit: nil, excludeDevice: nil, wait: nil)
            }
            #expect(pull?.kind == .transient)
            #expect(pull?.underlying != nil)
        }
    }

    @Test func aSuccessAnswerThatIsNotTheProtocolsJSONIsTransient() async throws {
        try await TestServer.with { server in
            let token = try await server.token("notes")
            // A root under which every path lands on the server's YAML document: a 200 that is not a pull answer.
            let transport = HTTPTransport(
                configuration: HTTPTransportConfiguration(baseURL: server.http.baseURL + "/openapi.yaml?ignored=", accessToken: token)
            )
            try await using(transport) { transport in
                let error = await transportError {
                    try await transport.pull(space: "notes", since: 0, limit: nil, excludeDevice: nil, wait: nil)
                }
                #expect(error?.kind == .transient)
                #expect(error?.status == 200)
                #expect(error?.underlying is JSONReadError)
            }
        }
    }

    @Test func aPayloadThatJSONCannotHoldIsPermanent() async throws {
        let transport = HTTPTransport(configuration: HTTPTransportConfiguration(baseURL: "http://127.0.0.1:1", accessToken: "t"))
        try await using(transport) { transport in
            var mutation = MutationInput.upsert(1, key: "a")
            mutation.payload = .object(["x": .double(.nan)])
            let error = await transportError { try await transport.push(.make(space: "notes", [mutation])) }
            #expect(error?.kind == .permanent)
        }
    }

    @Test(arguments: [
        (429, "7", "rate_limited", SyncTransportError.Kind.transient, Duration?.some(.seconds(7))),
        (503, " 120 ", "unavailable", .transient, .seconds(120)),
        (503, "Wed, 21 Oct 2026 07:28:00 GMT", "unavailable", .transient, nil),
        (429, "-3", "rate_limited", .transient, nil),
        (429, "1.5", "rate_limited", .transient, nil),
        (500, "9", "internal", .transient, nil),
        (400, "9", "bad_request", .permanent, nil),
        (413, "", "payload_too_large", .permanent, nil),
        (409, "", "conflict", .permanent, nil),
        (409, "", "cursor_ahead", .cursorAhead, nil),
        (404, "", "not_found", .permanent, nil),
        (403, "", "forbidden", .policyForbidden, nil),
        (401, "", "unauthorized", .authRequired, nil),
    ])
    func errorAnswersAreClassified(
        status: Int,
        retryAfter: String,
        code: String,
        kind: SyncTransportError.Kind,
        expectedDelay: Duration?
    ) throws {
        var headers = HTTPHeaders()
        if !retryAfter.isEmpty { headers.add(name: "Retry-After", value: retryAfter) }
        let body = ByteBuffer(string: #"{"error":{"code":"\#(code)","message":"because \#(status)"}}"#)
        let error = HTTPTransport.error(status: status, headers: headers, body: body, route: "pull")
        #expect(error.kind == kind)
        #expect(error.status == status)
        #expect(error.code == FerryError.Code(rawValue: code))
        #expect(error.retryAfter == expectedDelay)
        #expect(error.message == "pull: because \(status)")
    }

    @Test func anErrorAnswerWithoutTheProtocolBodyIsClassifiedByStatus() {
        var headers = HTTPHeaders()
        headers.add(name: "Retry-After", value: "30")
        let gateway = HTTPTransport.error(status: 503, headers: headers, body: ByteBuffer(string: "<html>down</html>"), route: "push")
        #expect(gateway.kind == .transient)
        #expect(gateway.code == nil)
        #expect(gateway.retryAfter == .seconds(30))
        #expect(gateway.message.contains("<html>down</html>"))
        let empty = HTTPTransport.error(status: 502, headers: HTTPHeaders(), body: ByteBuffer(), route: "push")
        #expect(empty.kind == .transient)
        #expect(empty.message == "push: HTTP 502")
        let teapot = HTTPTransport.error(status: 418, headers: HTTPHeaders(), body: ByteBuffer(string: "{}"), route: "push")
        #expect(teapot.kind == .permanent)
    }

    @Test func queryValuesArePercentEncodedAndWaitsAreSeconds() {
        #expect(HTTPTransport.percentEncode("dev a&b=c+d%#?/~._-Z9") == "dev%20a%26b%3Dc%2Bd%25%23%3F%2F~._-Z9")
        #expect(
            HTTPTransport.pullTarget(space: "notes", since: 7, limit: 10, excludeDevice: "a b", wait: .milliseconds(500))
                == "/sync/mutations/pull?space=notes&since_seq=7&limit=10&exclude_device=a%20b&wait=0.5"
        )
        #expect(
            HTTPTransport.pullTarget(space: "n", since: 0, limit: nil, excludeDevice: nil, wait: nil)
                == "/sync/mutations/pull?space=n&since_seq=0"
        )
        #expect(HTTPTransport.seconds(.seconds(60)) == "60")
        #expect(HTTPTransport.seconds(.milliseconds(1250)) == "1.25")
        #expect(HTTPTransport.seconds(.milliseconds(5)) == "0.005")
        #expect(HTTPTransport.seconds(.microseconds(999_600)) == "1")
        #expect(HTTPTransport.seconds(.zero) == "0")
        #expect(HTTPTransport.seconds(.seconds(-3)) == "0")
        #expect(HTTPExchange.timeAmount(.milliseconds(1500)) == .milliseconds(1500))
        #expect(HTTPExchange.timeAmount(.seconds(Int64.max)) == .nanoseconds(.max))
        #expect(HTTPExchange.timeAmount(.seconds(-1)) == .zero)
    }
}
