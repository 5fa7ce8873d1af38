import FerryCore
import FerryServer
import FerryTestSupport
import Foundation
import GRDB
import NIOHTTP1
import Testing

/// Every `/sync` route of this server, with a request that names `space`.
private func syncRoutes(space: String) -> [(HTTPMethod, String, Data?)] {
    let push =
        #"{"space":"\#(space)","device_id":"d","session_id":"s","mutations":[{"client_action_id":1,"entity":"note","entity_key":"k","op":"upsert","payload":{"x":1}}]}"#
    return [
        (.POST, "/sync/mutations/push", Data(push.utf8)),
        (.GET, "/sync/mutations/pull?space=\(space)&since_seq=0", nil),
        (.GET, "/sync/mutations/pull?space=\(space)&since_seq=0&wait=1", nil),
        (.POST, "/sync/stream", Data(#"{"space":"\#(space)","device_id":"d","types":["note"]}"#.utf8)),
        (.POST, "/sync/ack", Data(#"{"space":"\#(space)","device_id":"d","acks":["note|1"]}"#.utf8)),
        (.GET, "/sync/ack?space=\(space)&device_id=d", nil),
        (.DELETE, "/sync/ack?space=\(space)&device_id=d", nil),
    ]
}

@Suite struct AuthHTTPTests {
    @Test func missingWrongAndExpiredTokensGet401OnEveryRoute() async throws {
        let wall = ManualWallClock()
        try await TestServer.inProcess(wallClock: wall.clock) { server in
            let expiring = try await server.tokens.issue(spaces: ["notes"], accessTTL: 60).accessToken
            wall.advance(seconds: 61)
            for (method, path, body) in syncRoutes(space: "notes") {
                for header in [nil, "Bearer nope", "Basic abc", "Bearer", "Bearer \(expiring)"] as [String?] {
                    let headers = header.map { [("Authorization", $0)] } ?? []
                    let answer = try await server.request(method, path, body: body, headers: headers)
                    #expect(answer.status == 401, "\(method) \(path) with \(header ?? "no header")")
                    #expect(answer.errorCode == "unauthorized")
                }
            }
            #expect(try await server.storedMutationCount() == 0)
        }
    }

    @Test func aTokenOfAnotherSpaceGets403AndTouchesNothing() async throws {
        try await TestServer.inProcess { server in
            let mine = try await server.token("mine")
            let theirs = try await server.token("theirs")
            _ = try await server.push(.make(space: "theirs", [.upsert(1, key: "secret")]), token: theirs)
            for (method, path, body) in syncRoutes(space: "theirs") + syncRoutes(space: "unborn") {
                let answer = try await server.request(method, path, token: mine, body: body)
                #expect(answer.status == 403, "\(method) \(path)")
                #expect(answer.errorCode == "forbidden")
                #expect(!answer.text.contains("secret"))
            }
            #expect(try await server.storedMutationCount() == 1)
            // A refused request never created the space it named.
            let spaces = try await server.database.pool.read { db in
                try String.fetchAll(db, sql: "SELECT name FROM space ORDER BY name")
            }
            #expect(spaces == ["theirs"])
        }
    }

    @Test func refreshRotatesAndASpentRefreshTokenFails() async throws {
        try await TestServer.inProcess { server in
            let issued = try await server.tokens.issue(spaces: ["notes"], accessTTL: 120)
            let body = { (token: String) in try JSONEncoder().encode(RefreshRequest(refreshToken: token)) }
            let first = try await server.request(.POST, "/auth/refresh", body: try body(issued.refreshToken))
            #expect(first.status == 200)
            let pair = try first.decode(TokenPair.self)
            #expect(pair.expiresIn == 120)
            #expect(pair.refreshToken != issued.refreshToken)
            #expect(pair.accessToken != issued.accessToken)
            // The new access token works.
            let pull = try await server.pull("space=notes&since_seq=0", token: pair.accessToken)
            #expect(pull.status == 200)
            // The spent refresh token fails, and reusing it revokes the grant.
            let reused = try await server.request(.POST, "/auth/refresh", body: try body(issued.refreshToken))
            #expect(reused.status == 401)
            #expect(reused.errorCode == "unauthorized")
            let afterTheft = try await server.pull("space=notes&since_seq=0", token: pair.accessToken)
            #expect(afterTheft.status == 401)
            let rotated = try await server.request(.POST, "/auth/refresh", body: try body(pair.refreshToken))
            #expect(rotated.status == 401)
            // Malformed refresh bodies are 400, unknown tokens 401.
            let malformed = try await server.request(.POST, "/auth/refresh", body: Data("{}".utf8))
            #expect(malformed.status == 400)
            let unknown = try await server.request(.POST, "/auth/refresh", body: try body("frt_unknown"))
            #expect(unknown.status == 401)
        }
    }

    @Test func aRevokedGrantStopsWorking() async throws {
        try await TestServer.inProcess { server in
            let issued = try await server.tokens.issue(spaces: ["notes"], accessTTL: 3600)
            #expect(try await server.pull("space=notes&since_seq=0", token: issued.accessToken).status == 200)
            #expect(try await server.tokens.revoke(grantID: issued.grantID))
            #expect(try await server.pull("space=notes&since_seq=0", token: issued.accessToken).status == 401)
            #expect(try await server.tokens.grants().first?.revokedAt != nil)
        }
    }
}
