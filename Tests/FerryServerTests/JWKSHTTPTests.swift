import FerryCore
import FerryServer
import FerryTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

private func quietLogger() -> Logger {
    var logger = Logger(label: "ferry-test")
    logger.logLevel = .critical
    return logger
}

private func claims(_ clock: WallClock) -> [String: Any] {
    let now = clock.nowMilliseconds() / 1000
    return ["sub": "user-2", "exp": now + 300, "spaces": ["notes"]]
}

/// A JSON Web Key Set served over loopback, as an identity provider publishes it, counting
/// the requests for it.
private final class KeyServer: Sendable {
    private let state = Mutex<(keys: Data, served: Int)>((Data("{\"keys\":[]}".utf8), 0))

    var served: Int { state.withLock { $0.served } }

    func publish(_ keys: [JWTTestKey]) { state.withLock { $0.keys = JWTTestKey.jwks(keys) } }

    /// Runs `body` with the URL of the key set, on a live server on 127.0.0.1.
    func run(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let router = Router()
        router.get("jwks.json") { _, _ -> Response in
            let keys = self.state.withLock { state in
                state.served += 1
                return state.keys
            }
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: keys))
            )
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: quietLogger())
        try await app.test(.live) { client in
            let port = try #require(client.port)
            try await body("http://127.0.0.1:\(port)/jwks.json")
        }
    }
}

/// JWTs with keys from a JWKS that changes while the server runs: a file, and a URL.
@Suite struct JWKSHTTPTests {
    @Test func aKeyFileRotatedWhileTheServerRunsOverHTTP() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("jwks.json")
        let old = JWTTestKey.es256(kid: "old")
        let new = try JWTTestKey.rs256(kid: "new")
        try JWTTestKey.jwks([old]).write(to: URL(fileURLWithPath: path), options: .atomic)
        // Looked at on every request, so that the test need not wait for the second to pass.
        let jwt = await JWTAuthenticator(
            configuration: JWTConfiguration(keys: .jwksFile(path: path), jwksFileCheckInterval: .zero),
            logger: quietLogger()
        )
        try await jwt.loadKeys()
        try await TestServer.with(jwt: jwt) { server in
            let clock = WallClock.system
            let oldToken = try old.sign(claims(clock))
            let newToken = try new.sign(claims(clock))
            #expect(try await server.pull("space=notes&since_seq=0", token: oldToken).status == 200)
            #expect(try await server.pull("space=notes&since_seq=0", token: newToken).status == 401)

            try JWTTestKey.jwks([old, new]).write(to: URL(fileURLWithPath: path), options: .atomic)
            #expect(try await server.pull("space=notes&since_seq=0", token: newToken).status == 200)
            #expect(try await server.pull("space=notes&since_seq=0", token: oldToken).status == 200)

            try JWTTestKey.jwks([new]).write(to: URL(fileURLWithPath: path), options: .atomic)
            let refused = try await server.pull("space=notes&since_seq=0", token: oldToken)
            #expect(refused.status == 401)
            #expect(refused.errorCode == "unauthorized")
            #expect(try await server.pull("space=notes&since_seq=0", token: newToken).status == 200)
            let metrics = try await server.request(.GET, "/metrics").text
            #expect(metrics.contains(#"ferry_auth_failures_total{reason="jwt_unknown_key"} 2"#), "\(metrics)")
        }
        _ = folder
    }

    @Test func aKeyURLIsCachedAndFetchedAgainForAnUnknownKeyAtARateLimit() async throws {
        let keyServer = KeyServer()
        let first = JWTTestKey.es256(kid: "k1")
        let second = JWTTestKey.es256(kid: "k2")
        keyServer.publish([first])
        try await keyServer.run { (url: String) async throws in
            let wall = ManualWallClock()
            let jwt = await JWTAuthenticator(
                configuration: JWTConfiguration(
                    keys: .jwksURL(url),
                    jwksCacheDuration: .seconds(300),
                    jwksMinimumRefetchInterval: .seconds(30)
                ),
                clock: wall.clock,
                logger: quietLogger()
            )
            func accepted(_ key: JWTTestKey, kid: String? = nil) async throws -> Bool {
                let header: [String: Any] = kid.map { ["kid": $0] } ?? [:]
                if case .success = await jwt.verify(try key.sign(claims(wall.clock), header: header)) { return true }
                return false
            }
            #expect(try await accepted(first))
            #expect(try await accepted(first))
            #expect(keyServer.served == 1, "the keys are cached")

            // A new key at the provider: a token naming it is refused until the rate limit
            // allows a fetch, then accepted.
            keyServer.publish([first, second])
            wall.advance(seconds: 10)
            #expect(try await accepted(second) == false)
            wall.advance(seconds: 21)
            #expect(try await accepted(second))
            #expect(keyServer.served == 2)

            // A flood of made-up key ids fetches at most once per interval.
            for index in 0..<50 { #expect(try await accepted(first, kid: "bogus-\(index)") == false) }
            #expect(keyServer.served == 2)
            wall.advance(seconds: 30)
            for index in 0..<50 { #expect(try await accepted(first, kid: "bogus-\(index)") == false) }
            #expect(keyServer.served == 3)

            // After the cache duration the keys are fetched again: a removed key stops working.
            keyServer.publish([second])
            wall.advance(seconds: 301)
            #expect(try await accepted(first) == false)
            #expect(try await accepted(second))
            #expect(keyServer.served == 4)
            #expect(await jwt.jwksFetchCount == 4)
        }
    }
}
