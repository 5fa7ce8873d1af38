import FerryCore
import FerryServer
import FerryTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import Testing

/// Every `/sync` route of this server, with a request that names `space`.
private func syncRoutes(space: String) -> [(HTTPMethod, String, Data?)] {
    let push =
        #"{"space":"\#(space)","device_id":"d","session_id":"s","mutations":[{"client_action_id":1,"entity":"note","entity_key":"k","op":"upsert","payload":{"x":1}}]}"#
    let chunk = String(repeating: "a", count: 64)
    return [
        (.POST, "/sync/mutations/push", Data(push.utf8)),
        (.GET, "/sync/mutations/pull?space=\(space)&since_seq=0", nil),
        (.GET, "/sync/mutations/pull?space=\(space)&since_seq=0&wait=1", nil),
        (.POST, "/sync/stream", Data(#"{"space":"\#(space)","device_id":"d","types":["note"]}"#.utf8)),
        (.POST, "/sync/ack", Data(#"{"space":"\#(space)","device_id":"d","acks":["note|1"]}"#.utf8)),
        (.GET, "/sync/ack?space=\(space)&device_id=d", nil),
        (.DELETE, "/sync/ack?space=\(space)&device_id=d", nil),
        (.GET, "/sync/pull?space=\(space)", nil),
        (.GET, "/sync/pull/\(chunk)", nil),
        (.POST, "/sync/push?space=\(space)&device_id=d&session_id=s", Data()),
    ]
}

/// Every `/admin` route, with a valid request.
private let adminRoutes: [(HTTPMethod, String, Data?)] = [
    (.POST, "/admin/tokens", Data(#"{"spaces":["notes"]}"#.utf8)),
    (.GET, "/admin/tokens", nil),
    (.DELETE, "/admin/tokens/g_unknown", nil),
    (.GET, "/admin/spaces", nil),
    (.GET, "/admin/spaces/notes", nil),
    (.GET, "/admin/conflicts", nil),
    (.GET, "/admin/health", nil),
]

/// The body of `GET /admin/tokens`.
private struct Grants: Decodable {
    var grants: [TokenGrant]
}

/// Admin tokens: the `/admin` API for an app's backend, and nothing of any space.
@Suite struct AdminHTTPTests {
    @Test func anAdminTokenReadsNothingOfASpace() async throws {
        try await TestServer.inProcess { server in
            let notes = try await server.token("notes")
            _ = try await server.push(.make(space: "notes", [.upsert(1, key: "secret")]), token: notes)
            let admin = try await server.tokens.issue(spaces: ["notes"], accessTTL: 3600, admin: true)
            #expect(admin.spaces.isEmpty, "an admin grant holds no space, whatever was asked")
            for (method, path, body) in syncRoutes(space: "notes") {
                let answer = try await server.request(method, path, token: admin.accessToken, body: body)
                #expect(answer.status == 403, "\(method) \(path)")
                #expect(answer.errorCode == "forbidden")
                #expect(!answer.text.contains("secret"))
            }
            #expect(try await server.storedMutationCount() == 1)
        }
    }

    @Test func aSpaceTokenReachesNoAdminRoute() async throws {
        try await TestServer.inProcess { server in
            let notes = try await server.token("notes")
            let before = try await server.tokens.grants().count
            for (method, path, body) in adminRoutes {
                let forbidden = try await server.request(method, path, token: notes, body: body)
                #expect(forbidden.status == 403, "\(method) \(path)")
                #expect(forbidden.errorCode == "forbidden")
                for header in [nil, "Bearer nope", "Basic abc"] as [String?] {
                    let headers = header.map { [("Authorization", $0)] } ?? []
                    let refused = try await server.request(method, path, body: body, headers: headers)
                    #expect(refused.status == 401, "\(method) \(path) with \(header ?? "no header")")
                    #expect(refused.errorCode == "unauthorized")
                }
            }
            #expect(try await server.tokens.grants().count == before, "no refused request issued a grant")
        }
    }

    @Test func anAdminIssuesListsAndRevokesDeviceTokens() async throws {
        try await TestServer.inProcess { server in
            let admin = try await server.tokens.issue(spaces: [], accessTTL: 3600, admin: true).accessToken
            let created = try await server.request(
                .POST,
                "/admin/tokens",
                token: admin,
                body: Data(#"{"spaces":["notes","todo","notes"],"ttl":120}"#.utf8)
            )
            #expect(created.status == 201, "\(created.text)")
            let issued = try created.decode(IssuedTokens.self)
            #expect(issued.spaces == ["notes", "todo"])
            #expect(issued.expiresIn == 120)
            #expect(try await server.pull("space=notes&since_seq=0", token: issued.accessToken).status == 200)
            #expect(try await server.pull("space=other&since_seq=0", token: issued.accessToken).status == 403)

            let defaulted = try await server.request(.POST, "/admin/tokens", token: admin, body: Data(#"{"spaces":["x"]}"#.utf8))
            #expect(try defaulted.decode(IssuedTokens.self).expiresIn == AdminTokenRequest.defaultTTL)

            let listed = try await server.request(.GET, "/admin/tokens", token: admin)
            #expect(listed.status == 200)
            let grants = try listed.decode(Grants.self).grants
            #expect(grants.count == 3)
            #expect(grants.filter(\.isAdmin).count == 1)
            let grant = try #require(grants.first { $0.id == issued.grantID })
            #expect(grant.spaces == ["notes", "todo"] && grant.accessTTL == 120 && grant.revokedAt == nil && !grant.isAdmin)

            let revoked = try await server.request(.DELETE, "/admin/tokens/\(issued.grantID)", token: admin)
            #expect(revoked.status == 204)
            #expect(revoked.body.isEmpty)
            #expect(try await server.pull("space=notes&since_seq=0", token: issued.accessToken).status == 401)
            let unknown = try await server.request(.DELETE, "/admin/tokens/g_unknown", token: admin)
            #expect(unknown.status == 404)
            #expect(unknown.errorCode == "not_found")
        }
    }

    @Test(arguments: [
        "{}", #"{"spaces":[]}"#, #"{"spaces":["Notes"]}"#, #"{"spaces":[""]}"#, #"{"spaces":"notes"}"#, #"{"spaces":null}"#,
        #"{"spaces":["notes"],"ttl":0}"#, #"{"spaces":["notes"],"ttl":-5}"#, #"{"spaces":["notes"],"ttl":31536001}"#,
        #"{"spaces":["notes"],"ttl":null}"#, #"{"spaces":["notes"],"ttl":"60"}"#, #"{"spaces":["notes"],"ttl":1.5}"#, "[]", "{",
        "",
    ])
    func badIssueRequestsGet400AndIssueNothing(body: String) async throws {
        try await TestServer.inProcess { server in
            let admin = try await server.tokens.issue(spaces: [], accessTTL: 3600, admin: true).accessToken
            let answer = try await server.request(.POST, "/admin/tokens", token: admin, body: Data(body.utf8))
            #expect(answer.status == 400, "\(answer.text)")
            #expect(answer.errorCode == "bad_request")
            #expect(try await server.tokens.grants().count == 1)
        }
    }

    @Test func refreshingAnAdminPairKeepsItAdmin() async throws {
        try await TestServer.inProcess { server in
            let issued = try await server.tokens.issue(spaces: [], accessTTL: 60, admin: true)
            let answer = try await server.request(
                .POST,
                "/auth/refresh",
                body: try JSONEncoder().encode(RefreshRequest(refreshToken: issued.refreshToken))
            )
            #expect(answer.status == 200)
            let pair = try answer.decode(TokenPair.self)
            #expect(try await server.request(.GET, "/admin/tokens", token: pair.accessToken).status == 200)
            #expect(try await server.pull("space=notes&since_seq=0", token: pair.accessToken).status == 403)
            let scope = try #require(try await server.tokens.authenticate(accessToken: pair.accessToken))
            #expect(scope.isAdmin && scope.spaces.isEmpty)
        }
    }
}

/// An application on `eventLog` and `tokens` with the default configuration, logging
/// warnings only, for `app.test(.router)` (the store contract suites of the admin API).
func routerTestApplication(eventLog: any EventLog, tokens: any TokenStore) -> some ApplicationProtocol {
    var logger = Logger(label: "ferry-test")
    logger.logLevel = .warning
    return FerryApplication.makeApplication(
        eventLog: eventLog,
        tokens: tokens,
        metrics: ServerMetrics(),
        configuration: ServerConfiguration(),
        serverConfiguration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
        logger: logger
    )
}

/// The admin API over every store: what it issues, lists and revokes is what the store keeps.
@Suite struct AdminStoreContractTests {
    @Test(arguments: EventLogFactory.all)
    func issueListAndRevokeOverHTTP(factory: EventLogFactory) async throws {
        try await factory.with { eventLog, tokens in
            let app = routerTestApplication(eventLog: eventLog, tokens: tokens)
            let admin = try await tokens.issue(spaces: ["ignored"], accessTTL: 3600, admin: true)
            let adminScope = try #require(try await tokens.authenticate(accessToken: admin.accessToken))
            #expect(adminScope.isAdmin && adminScope.spaces.isEmpty)
            let adminGrant = try #require(try await tokens.grants().first { $0.id == admin.grantID })
            #expect(adminGrant.isAdmin && adminGrant.spaces.isEmpty)

            try await app.test(.router) { client in
                let bearer: HTTPFields = [.authorization: "Bearer \(admin.accessToken)", .contentType: "application/json"]
                let created = try await client.executeRequest(
                    uri: "/admin/tokens",
                    method: .post,
                    headers: bearer,
                    body: ByteBuffer(string: #"{"spaces":["notes"],"ttl":90}"#)
                )
                #expect(created.status == .created)
                let issued = try JSONDecoder().decode(IssuedTokens.self, from: Data(created.body.readableBytesView))
                let scope = try #require(try await tokens.authenticate(accessToken: issued.accessToken))
                #expect(scope.spaces == ["notes"] && !scope.isAdmin)

                let listed = try await client.executeRequest(uri: "/admin/tokens", method: .get, headers: bearer, body: nil)
                let grants = try JSONDecoder().decode(Grants.self, from: Data(listed.body.readableBytesView)).grants
                #expect(Set(grants.map(\.id)) == [admin.grantID, issued.grantID])
                #expect(grants.first { $0.id == admin.grantID }?.isAdmin == true)
                #expect(grants.first { $0.id == issued.grantID }?.isAdmin == false)

                let revoked = try await client.executeRequest(
                    uri: "/admin/tokens/\(issued.grantID)",
                    method: .delete,
                    headers: bearer,
                    body: nil
                )
                #expect(revoked.status == .noContent)
                #expect(try await tokens.authenticate(accessToken: issued.accessToken) == nil)
                let missing = try await client.executeRequest(uri: "/admin/tokens/g_nope", method: .delete, headers: bearer, body: nil)
                #expect(missing.status == .notFound)
            }
            // The admin pair refreshes into an admin pair in every store.
            let next = try #require(try await tokens.refresh(refreshToken: admin.refreshToken))
            #expect(try await tokens.authenticate(accessToken: next.accessToken)?.isAdmin == true)
        }
    }
}
