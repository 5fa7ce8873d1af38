import FerryCore
import FerryServer
import FerryTestSupport
import Foundation
import Logging
import NIOHTTP1
import Testing

private let issuer = "https://id.example.com/"
private let audience = "ferry"

private func quietLogger() -> Logger {
    var logger = Logger(label: "ferry-test")
    logger.logLevel = .critical
    return logger
}

/// Good claims at `clock`'s now: subject user-1, space notes, five minutes to live.
private func claims(_ clock: WallClock, _ changes: [String: Any] = [:]) -> [String: Any] {
    let now = clock.nowMilliseconds() / 1000
    var claims: [String: Any] = [
        "sub": "user-1", "iss": issuer, "aud": [audience, "other"], "exp": now + 300, "iat": now, "spaces": ["notes"],
    ]
    for (name, value) in changes { claims[name] = value is NSNull ? nil : value }
    return claims
}

/// The reason a token is refused with, or `nil` when it is accepted.
private func refusal(_ authenticator: JWTAuthenticator, _ token: String) async -> String? {
    switch await authenticator.verify(token) {
    case .success: nil
    case .failure(let refusal): refusal.reason
    }
}

/// A token that must be refused, and why.
struct RefusedJWT: Sendable, CustomTestStringConvertible {
    var name: String
    var reason: String
    var make: @Sendable (JWTTestKey, WallClock) throws -> String

    var testDescription: String { name }

    static let all: [RefusedJWT] = [
        RefusedJWT(name: "wrong signature", reason: "jwt_invalid") { _, clock in
            try JWTTestKey.hs256("another-secret-of-more-than-32-bytes!!").sign(claims(clock))
        },
        RefusedJWT(name: "wrong audience", reason: "jwt_wrong_audience") { key, clock in
            try key.sign(claims(clock, ["aud": "someone-else"]))
        },
        RefusedJWT(name: "no audience", reason: "jwt_wrong_audience") { key, clock in
            try key.sign(claims(clock, ["aud": NSNull()]))
        },
        RefusedJWT(name: "wrong issuer", reason: "jwt_wrong_issuer") { key, clock in
            try key.sign(claims(clock, ["iss": "https://evil.example.com/"]))
        },
        RefusedJWT(name: "expired beyond the leeway", reason: "jwt_expired") { key, clock in
            try key.sign(claims(clock, ["exp": clock.nowMilliseconds() / 1000 - 31]))
        },
        RefusedJWT(name: "no expiry", reason: "jwt_invalid") { key, clock in
            try key.sign(claims(clock, ["exp": NSNull()]))
        },
        RefusedJWT(name: "nbf in the future", reason: "jwt_not_yet_valid") { key, clock in
            try key.sign(claims(clock, ["nbf": clock.nowMilliseconds() / 1000 + 60]))
        },
        RefusedJWT(name: "alg none with a signature", reason: "jwt_invalid") { key, clock in
            try key.sign(claims(clock), header: ["alg": "none"])
        },
        RefusedJWT(name: "alg HS512", reason: "jwt_invalid") { key, clock in
            try key.sign(claims(clock), header: ["alg": "HS512"])
        },
        RefusedJWT(name: "no spaces claim", reason: "jwt_spaces") { key, clock in
            try key.sign(claims(clock, ["spaces": NSNull()]))
        },
        RefusedJWT(name: "spaces claim a string", reason: "jwt_spaces") { key, clock in
            try key.sign(claims(clock, ["spaces": "notes"]))
        },
        RefusedJWT(name: "spaces claim empty", reason: "jwt_spaces") { key, clock in
            try key.sign(claims(clock, ["spaces": [String]()]))
        },
        RefusedJWT(name: "spaces claim with a bad name", reason: "jwt_spaces") { key, clock in
            try key.sign(claims(clock, ["spaces": ["notes", "Not A Space"]]))
        },
        RefusedJWT(name: "spaces claim with a number", reason: "jwt_spaces") { key, clock in
            try key.sign(claims(clock, ["spaces": ["notes", 7]]))
        },
        RefusedJWT(name: "no subject", reason: "jwt_invalid") { key, clock in
            try key.sign(claims(clock, ["sub": NSNull()]))
        },
    ]
}

/// JWTs of an app's own identity provider: verified beside Ferry's own tokens.
@Suite struct JWTAuthTests {
    private static func hs256(_ key: JWTTestKey, clock: WallClock) async -> JWTAuthenticator {
        guard case .hmac(let secret) = key.material else { preconditionFailure("not an HMAC key") }
        return await JWTAuthenticator(
            configuration: JWTConfiguration(keys: .hs256(secret: secret), issuer: issuer, audience: audience),
            clock: clock,
            logger: quietLogger()
        )
    }

    @Test func aValidTokenReadsItsSpacesOnlyAndNeverAdmin() async throws {
        let wall = ManualWallClock()
        let key = JWTTestKey.hs256()
        let jwt = await Self.hs256(key, clock: wall.clock)
        try await TestServer.inProcess(jwt: jwt, wallClock: wall.clock) { server in
            let token = try key.sign(claims(wall.clock, ["spaces": ["notes", "todo"]]))
            #expect(JWTAuthenticator.looksLikeJWT(token))
            #expect(try await server.pull("space=notes&since_seq=0", token: token).status == 200)
            #expect(try await server.pull("space=todo&since_seq=0", token: token).status == 200)
            let outside = try await server.pull("space=other&since_seq=0", token: token)
            #expect(outside.status == 403)
            #expect(outside.errorCode == "forbidden")
            let admin = try await server.request(.GET, "/admin/tokens", token: token)
            #expect(admin.status == 403, "a JWT never reaches /admin")
            // Ferry's own tokens keep working beside JWTs.
            #expect(try await server.pull("space=notes&since_seq=0", token: try await server.token("notes")).status == 200)
            let scope = try await jwt.scope(for: token)
            #expect(scope.grantID == "jwt:user-1")
            #expect(scope.spaces == ["notes", "todo"] && !scope.isAdmin)
        }
    }

    @Test(arguments: RefusedJWT.all)
    func aBadTokenIsRefusedWith401(_ bad: RefusedJWT) async throws {
        let wall = ManualWallClock()
        let key = JWTTestKey.hs256()
        let jwt = await Self.hs256(key, clock: wall.clock)
        let token = try bad.make(key, wall.clock)
        #expect(await refusal(jwt, token) == bad.reason)
        try await TestServer.inProcess(jwt: jwt, wallClock: wall.clock) { server in
            let answer = try await server.pull("space=notes&since_seq=0", token: token)
            #expect(answer.status == 401)
            #expect(answer.errorCode == "unauthorized")
            let metrics = try await server.request(.GET, "/metrics")
            #expect(metrics.text.contains(#"ferry_auth_failures_total{reason="\#(bad.reason)"} 1"#), "\(metrics.text)")
        }
    }

    @Test func anUnsignedTokenIsRefused() async throws {
        let wall = ManualWallClock()
        let key = JWTTestKey.hs256()
        let jwt = await Self.hs256(key, clock: wall.clock)
        // alg none with an empty signature: not a JWT's shape, so an unknown opaque token.
        let signed = try key.sign(claims(wall.clock), header: ["alg": "none"])
        let unsigned = String(signed[..<signed.lastIndex(of: ".")!]) + "."
        #expect(!JWTAuthenticator.looksLikeJWT(unsigned))
        #expect(await refusal(jwt, unsigned) == "jwt_invalid")
        try await TestServer.inProcess(jwt: jwt, wallClock: wall.clock) { server in
            let answer = try await server.pull("space=notes&since_seq=0", token: unsigned)
            #expect(answer.status == 401)
        }
    }

    @Test func expiryAndNotBeforeHonourTheLeeway() async throws {
        let wall = ManualWallClock()
        let key = JWTTestKey.hs256()
        let jwt = await Self.hs256(key, clock: wall.clock)
        let now = wall.clock.nowMilliseconds() / 1000
        let token = try key.sign(claims(wall.clock, ["exp": now + 10, "nbf": now + 20]))
        #expect(await refusal(jwt, token) == nil, "nbf 20 s ahead is within the 30 s leeway")
        wall.advance(seconds: 39)
        #expect(await refusal(jwt, token) == nil, "29 s past exp is within the leeway")
        wall.advance(seconds: 2)
        #expect(await refusal(jwt, token) == "jwt_expired")
        let early = try key.sign(claims(wall.clock, ["nbf": wall.clock.nowMilliseconds() / 1000 + 31]))
        #expect(await refusal(jwt, early) == "jwt_not_yet_valid")
    }

    @Test func issuerAndAudienceAreCheckedOnlyWhenConfigured() async throws {
        let wall = ManualWallClock()
        let key = JWTTestKey.hs256()
        guard case .hmac(let secret) = key.material else { return }
        let open = await JWTAuthenticator(
            configuration: JWTConfiguration(keys: .hs256(secret: secret)),
            clock: wall.clock,
            logger: quietLogger()
        )
        let token = try key.sign(claims(wall.clock, ["iss": NSNull(), "aud": NSNull()]))
        #expect(await refusal(open, token) == nil)
        #expect(await refusal(await Self.hs256(key, clock: wall.clock), token) == "jwt_wrong_issuer")
        // A single aud string is accepted as a list of one.
        let single = try key.sign(claims(wall.clock, ["aud": audience]))
        #expect(await refusal(await Self.hs256(key, clock: wall.clock), single) == nil)
    }

    @Test func aCustomSpacesClaimIsReadLiterally() async throws {
        let wall = ManualWallClock()
        let key = JWTTestKey.hs256()
        guard case .hmac(let secret) = key.material else { return }
        let claim = "https://example.com/spaces"
        let jwt = await JWTAuthenticator(
            configuration: JWTConfiguration(keys: .hs256(secret: secret), spacesClaim: claim),
            clock: wall.clock,
            logger: quietLogger()
        )
        let token = try key.sign(claims(wall.clock, [claim: ["team-1"], "spaces": NSNull()]))
        #expect(try await jwt.scope(for: token).spaces == ["team-1"])
        #expect(await refusal(jwt, try key.sign(claims(wall.clock))) == "jwt_spaces")
    }

    @Test func aKeySetRefusesSharedSecretsAndAlgorithmConfusion() async throws {
        let wall = ManualWallClock()
        let folder = try TemporaryFolder()
        let rsa = try JWTTestKey.rs256(kid: "r1")
        let path = folder.path("jwks.json")
        try JWTTestKey.jwks([rsa]).write(to: URL(fileURLWithPath: path))
        let jwt = await JWTAuthenticator(
            configuration: JWTConfiguration(keys: .jwksFile(path: path), issuer: issuer, audience: audience),
            clock: wall.clock,
            logger: quietLogger()
        )
        #expect(await refusal(jwt, try rsa.sign(claims(wall.clock))) == nil)
        #expect(await refusal(jwt, try JWTTestKey.hs256().sign(claims(wall.clock))) == "jwt_invalid")
        // HS256 keyed with the RSA public key's own bytes, naming the RSA key: refused.
        let publicBytes = Data(try #require(rsa.jwk?["n"]).utf8)
        let confused = JWTTestKey(kid: "r1", material: .hmac(Array(publicBytes)))
        #expect(await refusal(jwt, try confused.sign(claims(wall.clock))) == "jwt_invalid")
        // An ES256 header on the RSA key: the key's algorithm decides, and it is not ES256.
        #expect(await refusal(jwt, try rsa.sign(claims(wall.clock), header: ["alg": "ES256"])) == "jwt_invalid")
        #expect(await refusal(jwt, try rsa.sign(claims(wall.clock), header: ["alg": "none"])) == "jwt_invalid")
        _ = folder
    }

    @Test func aRotatedKeyFileIsFollowed() async throws {
        let wall = ManualWallClock()
        let folder = try TemporaryFolder()
        let path = folder.path("jwks.json")
        let first = JWTTestKey.es256(kid: "k1")
        let second = try JWTTestKey.rs256(kid: "k2")
        try JWTTestKey.jwks([first]).write(to: URL(fileURLWithPath: path), options: .atomic)
        let jwt = await JWTAuthenticator(
            configuration: JWTConfiguration(keys: .jwksFile(path: path)),
            clock: wall.clock,
            logger: quietLogger()
        )
        let one = try first.sign(claims(wall.clock))
        let two = try second.sign(claims(wall.clock))
        #expect(await refusal(jwt, one) == nil)
        #expect(await refusal(jwt, two) == "jwt_unknown_key")
        // The new key is added: a token naming it makes the file be looked at again at once.
        try JWTTestKey.jwks([first, second]).write(to: URL(fileURLWithPath: path), options: .atomic)
        #expect(await refusal(jwt, two) == nil)
        #expect(await refusal(jwt, one) == nil)
        // The old key is removed: noticed on the next look, at most a second later.
        try JWTTestKey.jwks([second]).write(to: URL(fileURLWithPath: path), options: .atomic)
        wall.advance(seconds: 1)
        #expect(await refusal(jwt, one) == "jwt_unknown_key")
        #expect(await refusal(jwt, two) == nil)
        // A broken file keeps the keys loaded before.
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        wall.advance(seconds: 1)
        #expect(await refusal(jwt, two) == nil)
        _ = folder
    }

    @Test func aMissingKeyFileRefusesEveryToken() async throws {
        let wall = ManualWallClock()
        let jwt = await JWTAuthenticator(
            configuration: JWTConfiguration(keys: .jwksFile(path: "/nonexistent/jwks.json")),
            clock: wall.clock,
            logger: quietLogger()
        )
        await #expect(throws: JWTRefusal.self) { try await jwt.loadKeys() }
        #expect(await refusal(jwt, try JWTTestKey.es256(kid: "k1").sign(claims(wall.clock))) == "jwks_unavailable")
    }
}
