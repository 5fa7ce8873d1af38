import FerryCore
import FerryServer
import FerryTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The connection limits that hold against hostile clients, over real sockets on loopback,
/// with idle timeouts of a second or three so that nothing waits long: idle connections,
/// request heads and bodies that stall or trickle.
@Suite(.serialized, .tags(.realTime), .timeLimit(.minutes(2)))
struct AbuseLimitTests {
    /// The port of a loopback test server.
    private static func port(of server: TestServer) throws -> Int {
        try #require(server.http.baseURL.split(separator: ":").last.flatMap { Int($0) })
    }

    /// Raises this process's soft limit of open files to at least `wanted` (within the hard
    /// limit); answers the limit now in force.
    private static func raiseOpenFileLimit(to wanted: Int) -> Int {
        #if canImport(Glibc)
            var limit = rlimit()
            _ = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
            if limit.rlim_cur < rlim_t(wanted) {
                limit.rlim_cur = min(limit.rlim_max, rlim_t(wanted))
                _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
                _ = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
            }
            return Int(limit.rlim_cur)
        #else
            return wanted
        #endif
    }

    /// Waits (bounded) until the peer has closed every connection of `connections`; answers
    /// how many it closed.
    private static func waitUntilClosed(_ connections: [RawConnection], within limit: Duration) async throws -> Int {
        var open = connections
        let deadline = ContinuousClock.now + limit
        while !open.isEmpty, ContinuousClock.now < deadline {
            open.removeAll { $0.isClosedByPeer }
            if !open.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        return connections.count - open.count
    }

    @Test func fifteenHundredIdleSocketsDoNotStopTheServerAndAreClosedAfterTheIdleTimeout() async throws {
        let count = 1500
        // Both ends of every connection live in this process.
        #expect(Self.raiseOpenFileLimit(to: 2 * count + 512) >= 2 * count + 512)
        try await TestServer.with(configuration: ServerConfiguration(idleTimeout: .seconds(8))) { server in
            let port = try Self.port(of: server)
            let token = try await server.token("notes")
            var idle: [RawConnection] = []
            let opened = ContinuousClock.now
            for _ in 0..<count { idle.append(try RawConnection(port: port)) }

            // The server still answers others, at once. Each check below uses a new client: a
            // pooled connection left idle while the sockets opened (seconds, on a loaded
            // machine) may be the one the server's idle timeout is closing.
            try await FerryTestClient.withHTTPClient { client async throws in
                let fresh = FerryTestClient(baseURL: server.http.baseURL, client: client)
                let health = try await fresh.request(.GET, "/healthz", timeout: .seconds(10))
                #expect(health.status == 200)
                let push = try await fresh.push(.make(space: "notes", [.upsert(1, key: "a")]), token: token)
                #expect(push.status == 200)
            }
            let stillOpen = idle.filter { !$0.isClosedByPeer }.count
            // Unless opening them took most of the timeout (a loaded machine), none has gone yet.
            if ContinuousClock.now - opened < .seconds(6) {
                #expect(stillOpen == count, "closed before the idle timeout")
            }

            // Every idle one is closed by the server once the timeout passed.
            let closed = try await Self.waitUntilClosed(idle, within: .seconds(60))
            #expect(closed == count)
            try await FerryTestClient.withHTTPClient { client async throws in
                let fresh = FerryTestClient(baseURL: server.http.baseURL, client: client)
                #expect(try await fresh.request(.GET, "/healthz", timeout: .seconds(10)).status == 200)
            }
            for connection in idle { connection.close() }
        }
    }

    @Test func aStalledRequestHeadIsClosed() async throws {
        try await TestServer.with(configuration: ServerConfiguration(idleTimeout: .seconds(1))) { server in
            let connection = try RawConnection(port: try Self.port(of: server))
            connection.send(Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ".utf8))
            let start = ContinuousClock.now
            let (received, closed) = connection.readUntilClosed(timeout: .seconds(20))
            #expect(closed)
            #expect(ContinuousClock.now - start >= .milliseconds(500), "closed before the idle timeout")
            // No answer was made to a request that never arrived.
            #expect(RawAnswer(received).map { $0.status } != 200)
            #expect(try await server.request(.GET, "/healthz").status == 200)
        }
    }

    @Test func aTrickledRequestHeadIsClosedThoughBytesKeepComing() async throws {
        try await TestServer.with(configuration: ServerConfiguration(idleTimeout: .seconds(1))) { server in
            let connection = try RawConnection(port: try Self.port(of: server))
            connection.send(Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".utf8))
            let start = ContinuousClock.now
            var closed = false
            // One byte every 200 ms: never a second without traffic, but the head never ends.
            while !closed, ContinuousClock.now - start < .seconds(20) {
                closed = connection.send([UInt8(ascii: "a")], timeout: .milliseconds(200)).closed || connection.isClosedByPeer
                if !closed { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(closed)
            #expect(ContinuousClock.now - start < .seconds(10), "a trickled head was held \(ContinuousClock.now - start)")
        }
    }

    @Test func aStalledBodyIsClosedAndStoresNothing() async throws {
        try await TestServer.with(configuration: ServerConfiguration(idleTimeout: .seconds(1))) { server in
            let token = try await server.token("notes")
            let connection = try RawConnection(port: try Self.port(of: server))
            let body =
                #"{"space":"notes","device_id":"d","session_id":"s","mutations":[{"client_action_id":1,"entity":"note","entity_key":"k","op":"upsert","payload":{}}]}"#
            let head =
                "POST /sync/mutations/push HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
            // All but the last byte of the body, then nothing.
            connection.send(Array(head.utf8) + Array(body.utf8.dropLast()))
            let (received, closed) = connection.readUntilClosed(timeout: .seconds(20))
            #expect(closed)
            #expect(RawAnswer(received).map { $0.status } != 200)
            #expect(try await server.storedMutationCount() == 0)
            #expect(try await server.request(.GET, "/healthz").status == 200)
        }
    }
}
