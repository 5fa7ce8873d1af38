import FerryCore
import FerryTestSupport
import Foundation
import NIOHTTP1
import Testing

/// Runs the built `ferry` with `arguments` to a zero exit; answers what it printed.
private func ferryPrinted(_ arguments: [String]) throws -> String {
    let (status, output) = try ferry(arguments)
    guard status == 0 else { throw ProcessError(message: "ferry \(arguments.prefix(2)) exited \(status): \(output)") }
    return output
}

/// A new grant for space `notes` from `ferry token create --json`.
private func createToken(_ url: String) throws -> IssuedTokensJSON {
    let printed = try ferryPrinted(["token", "create", "--postgres", url, "--space", "notes", "--json"])
    // Standard error is in `printed` too: the JSON is the line that is an object.
    let line = try #require(printed.split(separator: "\n").first { $0.hasPrefix("{") }, "\(printed)")
    return try JSONDecoder().decode(IssuedTokensJSON.self, from: Data(line.utf8))
}

/// The JSON `ferry token create --json` prints.
private struct IssuedTokensJSON: Decodable {
    var grantID: String
    var accessToken: String
    var refreshToken: String

    enum CodingKeys: String, CodingKey {
        case grantID = "grant_id"
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
    }
}

/// Token revocation and refresh-token reuse take effect on every server of a cluster at
/// once: two `ferry serve` processes on one PostgreSQL database.
@Suite(.serialized, .tags(.realTime), .enabled(if: PostgresTestServer.adminURL != nil, "needs the PostgreSQL that scripts/test starts"))
struct TokenClusterTests {
    /// Runs two servers on a fresh database; stops them afterwards.
    private func withCluster(_ body: (_ url: String, _ servers: [FerryTestClient]) async throws -> Void) async throws {
        try await PostgresTestServer.withDatabase { url in
            let folder = try TemporaryFolder()
            let one = try await ServerProcess(arguments: ["--postgres", url, "--data", folder.path("unused")], waitUntilHealthy: true)
            let two = try await ServerProcess(arguments: ["--postgres", url, "--data", folder.path("unused")], waitUntilHealthy: true)
            do {
                try await FerryTestClient.withHTTPClient { client in
                    try await body(url, [one, two].map { FerryTestClient(baseURL: $0.baseURL, client: client) })
                }
            } catch {
                await one.stop()
                await two.stop()
                throw error
            }
            try await one.stop(signal: SIGTERM)
            try await two.stop(signal: SIGTERM)
        }
    }

    @Test func aRevokedTokenStopsWorkingOnEveryServerAtOnce() async throws {
        try await withCluster { url, servers in
            let issued = try createToken(url)
            let kept = try createToken(url)
            for server in servers {
                #expect(try await server.pull("space=notes&since_seq=0", token: issued.accessToken).status == 200)
            }
            _ = try ferryPrinted(["token", "revoke", "--postgres", url, issued.grantID])
            // The very next request, on either server, is refused: nothing is cached.
            for server in servers {
                let pull = try await server.pull("space=notes&since_seq=0", token: issued.accessToken)
                #expect(pull.status == 401)
                #expect(pull.errorCode == "unauthorized")
                let push = try await server.push(.make(space: "notes", [.upsert(1, key: "after")]), token: issued.accessToken)
                #expect(push.status == 401)
                let refresh = try await server.request(
                    .POST,
                    "/auth/refresh",
                    body: try JSONEncoder().encode(RefreshRequest(refreshToken: issued.refreshToken))
                )
                #expect(refresh.status == 401)
                // Another grant is untouched.
                #expect(try await server.pull("space=notes&since_seq=0", token: kept.accessToken).status == 200)
            }
            #expect(try await servers[0].pull("space=notes&since_seq=0", token: kept.accessToken).decode(PullResponse.self).headSeq == 0)
        }
    }

    @Test func aReusedRefreshTokenRevokesTheGrantOnEveryServer() async throws {
        try await withCluster { url, servers in
            let issued = try createToken(url)
            let body = { (token: String) in try JSONEncoder().encode(RefreshRequest(refreshToken: token)) }
            // Rotated on the first server.
            let rotated = try await servers[0].request(.POST, "/auth/refresh", body: try body(issued.refreshToken))
            #expect(rotated.status == 200)
            let pair = try rotated.decode(TokenPair.self)
            for server in servers {
                #expect(try await server.pull("space=notes&since_seq=0", token: pair.accessToken).status == 200)
            }
            // The spent refresh token presented to the second: refused, and the grant revoked.
            let reused = try await servers[1].request(.POST, "/auth/refresh", body: try body(issued.refreshToken))
            #expect(reused.status == 401)
            #expect(reused.errorCode == "unauthorized")
            for server in servers {
                #expect(try await server.pull("space=notes&since_seq=0", token: pair.accessToken).status == 401)
                #expect(try await server.request(.POST, "/auth/refresh", body: try body(pair.refreshToken)).status == 401)
            }
            let listed = try ferryPrinted(["token", "list", "--postgres", url])
            #expect(listed.contains(issued.grantID))
            #expect(listed.contains("revoked"), "\(listed)")
        }
    }
}
