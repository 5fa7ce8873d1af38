import FerryCore
import FerryHTTP
import FerryLog
import FerryServer
import FerryTestSupport
import Foundation
import NIOHTTP1
import Testing

/// Token refresh against a real server whose clock the tests move.
@Suite struct HTTPTransportTokenRefreshTests {
    @Test func concurrentRefusalsShareOneRefreshAndTheRotatedTokenIsHandedOver() async throws {
        let wall = ManualWallClock()
        try await TestServer.with(wallClock: wall.clock) { server in
            let issued = try await server.tokens.issue(spaces: ["notes"], accessTTL: 60)
            let recorder = TokenPairRecorder()
            let transport = server.transport(accessToken: issued.accessToken, refreshToken: issued.refreshToken, recorder: recorder)
            try await using(transport) { transport in
                _ = try await transport.push(.make(space: "notes", [.upsert(1, key: "a")]))
                wall.advance(seconds: 61)

                let pages = try await withThrowingTaskGroup(of: PullResponse.self) { group in
                    for _ in 0..<20 {
                        group.addTask { try await transport.pull(space: "notes", since: 0, limit: nil, excludeDevice: nil, wait: nil) }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(pages.count == 20)
                #expect(pages.allSatisfy { $0.mutations.map(\.entityKey) == ["a"] })

                let pairs = await recorder.pairs
                #expect(pairs.count == 1)
                let pair = try #require(pairs.first)
                #expect(pair.refreshToken != issued.refreshToken)
                #expect(pair.accessToken != issued.accessToken)

                // The transport keeps using the new access token without refreshing again.
                _ = try await transport.push(.make(space: "notes", [.upsert(2, key: "b")]))
                #expect(await recorder.pairs.count == 1)

                // The handed-over refresh token is the live one; the original is spent.
                let refresh = { (token: String) in
                    try await server.request(.POST, "/auth/refresh", body: try JSONEncoder().encode(RefreshRequest(refreshToken: token)))
                }
                #expect(try await refresh(pair.refreshToken).status == 200)
                #expect(try await refresh(issued.refreshToken).status == 401)
            }
        }
    }

    @Test func aRequestRefusedAgainAfterTheRefreshNeedsSignIn() async throws {
        try await TestServer.with { server in
            // Access tokens of this grant are expired from the start, the refreshed ones too.
            let issued = try await server.tokens.issue(spaces: ["notes"], accessTTL: 0)
            let recorder = TokenPairRecorder()
            let transport = server.transport(accessToken: issued.accessToken, refreshToken: issued.refreshToken, recorder: recorder)
            try await using(transport) { transport in
                let error = await transportError {
                    try await transport.pull(space: "notes", since: 0, limit: nil, excludeDevice: nil, wait: nil)
                }
                #expect(error?.kind == .authRequired)
                #expect(error?.status == 401)
                #expect(await recorder.pairs.count == 1)
            }
        }
    }

    @Test func aRefusedRefreshTokenNeedsSignInAndIsNotSpentAgain() async throws {
        let wall = ManualWallClock()
        try await TestServer.with(wallClock: wall.clock) { server in
            let issued = try await server.tokens.issue(spaces: ["notes"], accessTTL: 60)
            // Someone else spends the refresh token first.
            let stolen = try await server.request(
                .POST,
                "/auth/refresh",
                body: try JSONEncoder().encode(RefreshRequest(refreshToken: issued.refreshToken))
            )
            #expect(stolen.status == 200)
            wall.advance(seconds: 61)
            let recorder = TokenPairRecorder()
            let transport = server.transport(accessToken: issued.accessToken, refreshToken: issued.refreshToken, recorder: recorder)
            try await using(transport) { transport in
                for _ in 0..<2 {
                    let error = await transportError { try await transport.push(.make(space: "notes", [.upsert(1, key: "a")])) }
                    #expect(error?.kind == .authRequired)
                    #expect(error?.code == .unauthorized)
                }
                #expect(await recorder.pairs.isEmpty)
            }
            #expect(try await server.storedMutationCount() == 0)
        }
    }

    @Test func withoutARefreshTokenA401NeedsSignInAtOnce() async throws {
        let wall = ManualWallClock()
        try await TestServer.with(wallClock: wall.clock) { server in
            let issued = try await server.tokens.issue(spaces: ["notes"], accessTTL: 60)
            wall.advance(seconds: 61)
            let recorder = TokenPairRecorder()
            try await using(server.transport(accessToken: issued.accessToken, recorder: recorder)) { transport in
                let pull = await transportError {
                    try await transport.pull(space: "notes", since: 0, limit: nil, excludeDevice: nil, wait: nil)
                }
                #expect(pull?.kind == .authRequired)
                #expect(pull?.status == 401)
                #expect(pull?.code == .unauthorized)
                let push = await transportError { try await transport.push(.make(space: "notes", [.upsert(1, key: "a")])) }
                #expect(push?.kind == .authRequired)
                #expect(await recorder.pairs.isEmpty)
            }
            // The refresh token was never spent.
            let refresh = try await server.request(
                .POST,
                "/auth/refresh",
                body: try JSONEncoder().encode(RefreshRequest(refreshToken: issued.refreshToken))
            )
            #expect(refresh.status == 200)
        }
    }
}
