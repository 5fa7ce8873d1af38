import FerryCore
import FerryServer
import FerryTestSupport
import NIOHTTP1
import Testing

/// An upgrade request of the live channel (`GET /sync/mutations/live`) that the server
/// refuses is answered on the same connection as an HTTP error, as the pull answers it,
/// without switching protocols.
@Suite(.timeLimit(.minutes(1)))
struct LiveRefusalHTTPTests {
    private static func port(of server: TestServer) throws -> Int {
        try #require(server.http.baseURL.split(separator: ":").last.flatMap { Int($0) })
    }

    /// Sends a WebSocket upgrade request for `query`; answers what the server said: a whole
    /// answer (its `Content-Length` read), or a `101` head. Reads in short turns, so that the
    /// server's tasks are not kept from running by this test's wait.
    private static func upgrade(_ server: TestServer, _ query: String, token: String?) async throws -> RawAnswer? {
        let connection = try RawConnection(port: try port(of: server))
        defer { connection.close() }
        var head = "GET /sync/mutations/live?\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
        head += "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        var (received, closed) = connection.send(Array((head + "\r\n").utf8))
        let deadline = ContinuousClock.now + .seconds(20)
        while !closed, ContinuousClock.now < deadline {
            if let answer = RawAnswer(received), answer.isComplete { return answer }
            let more = connection.readUntilClosed(timeout: .milliseconds(20))
            received += more.received
            closed = more.closed
            await Task.yield()
        }
        return RawAnswer(received)
    }

    @Test func refusedUpgradesAreAnsweredAsThePullAnswers() async throws {
        try await TestServer.with { server in
            let token = try await server.token("live")
            let otherSpace = try await server.token("elsewhere")
            let readsBefore = server.outage.pagesRead

            let missing = try #require(try await Self.upgrade(server, "space=live&since_seq=0", token: nil))
            #expect(missing.status == 401)
            #expect(missing.body.contains(#""unauthorized""#))
            let wrong = try #require(try await Self.upgrade(server, "space=live&since_seq=0", token: "fat_not-a-token"))
            #expect(wrong.status == 401)
            let forbidden = try #require(try await Self.upgrade(server, "space=live&since_seq=0", token: otherSpace))
            #expect(forbidden.status == 403)
            #expect(forbidden.body.contains(#""forbidden""#))
            #expect(server.outage.pagesRead == readsBefore, "nothing is read for a refused token")

            let bad = try #require(try await Self.upgrade(server, "space=live&since_seq=-1", token: token))
            #expect(bad.status == 400)
            let ahead = try #require(try await Self.upgrade(server, "space=live&since_seq=9", token: token))
            #expect(ahead.status == 409)
            #expect(ahead.body.contains(#""cursor_ahead""#))

            // The same request without the upgrade: 400, it is a WebSocket.
            let plain = try await server.request(.GET, "/sync/mutations/live?space=live&since_seq=0", token: token)
            #expect(plain.status == 400)

            // Admitted: 101 and the first frame.
            let admitted = try #require(try await Self.upgrade(server, "space=live&since_seq=0", token: token))
            #expect(admitted.status == 101)
        }
    }

    /// An upgrade to a protocol the server does not speak (curl's `--http2` on `http://` asks
    /// `h2c`) is served as the plain request it also is.
    @Test func anUpgradeToAnotherProtocolIsServedAsHTTP1() async throws {
        try await TestServer.with { server in
            let connection = try RawConnection(port: try Self.port(of: server))
            defer { connection.close() }
            let head =
                "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                + "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
            var (received, closed) = connection.send(Array(head.utf8))
            let deadline = ContinuousClock.now + .seconds(20)
            while !closed, ContinuousClock.now < deadline, !(RawAnswer(received)?.isComplete ?? false) {
                let more = connection.readUntilClosed(timeout: .milliseconds(20))
                received += more.received
                closed = more.closed
                await Task.yield()
            }
            #expect(RawAnswer(received)?.status == 200)
        }
    }

    @Test func aChannelOverTheLimitIsRefusedWith429() async throws {
        try await TestServer.with(configuration: ServerConfiguration(maxLongPollsPerToken: 1)) { server in
            let token = try await server.token("live")
            let held = try RawConnection(port: try Self.port(of: server))
            let head =
                "GET /sync/mutations/live?space=live&since_seq=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
                + "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                + "Authorization: Bearer \(token)\r\n\r\n"
            held.send(Array(head.utf8))
            await server.waiters.waitUntil { $0.current == 1 }

            let refused = try #require(try await Self.upgrade(server, "space=live&since_seq=0", token: token))
            #expect(refused.status == 429)
            #expect(refused.body.contains(#""rate_limited""#))
            #expect(refused.head.lowercased().contains("retry-after: 5"))
            let longPoll = try await server.pull("space=live&since_seq=0&wait=30", token: token)
            #expect(longPoll.status == 429, "a long-poll of the same token is refused too")
            held.close()
        }
    }
}
