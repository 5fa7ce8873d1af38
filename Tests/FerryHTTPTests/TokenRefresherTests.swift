import FerryCore
import Logging
import Testing

@testable import FerryHTTP

/// A fake refresh endpoint that records the refresh tokens spent and answers numbered pairs.
private actor FakeRefreshServer {
    private(set) var spent: [String] = []
    var failure: SyncTransportError?

    func spend(_ token: String) async throws -> TokenPair {
        spent.append(token)
        // Give other callers every chance to pile up while this refresh is in flight.
        for _ in 0..<50 { await Task.yield() }
        if let failure { throw failure }
        return TokenPair(accessToken: "a\(spent.count)", refreshToken: "r\(spent.count)", expiresIn: 60)
    }

    func fail(with error: SyncTransportError?) { failure = error }
}

private let refusal = SyncTransportError(.authRequired, "token expired", status: 401, code: .unauthorized)

private func makeRefresher(
    refreshToken: String? = "r0",
    server: FakeRefreshServer,
    recorder: TokenPairRecorder = TokenPairRecorder()
) -> TokenRefresher {
    TokenRefresher(
        accessToken: "a0",
        refreshToken: refreshToken,
        logger: .init(label: "test"),
        spend: { try await server.spend($0) },
        onRefreshed: { await recorder.record($0) }
    )
}

/// The single-flight rules of token refresh, without a network.
@Suite struct TokenRefresherTests {
    @Test func manyRefusalsWithTheSameTokenShareOneRefresh() async throws {
        let server = FakeRefreshServer()
        let recorder = TokenPairRecorder()
        let refresher = makeRefresher(server: server, recorder: recorder)
        let stale = await refresher.current()
        let renewed = try await withThrowingTaskGroup(of: TokenRefresher.Credentials.self) { group in
            for _ in 0..<50 { group.addTask { try await refresher.renew(after: stale, refusal: refusal) } }
            return try await group.reduce(into: [TokenRefresher.Credentials]()) { $0.append($1) }
        }
        #expect(Set(renewed) == [TokenRefresher.Credentials(accessToken: "a1", generation: 1)])
        #expect(await server.spent == ["r0"])
        #expect(await recorder.pairs == [TokenPair(accessToken: "a1", refreshToken: "r1", expiresIn: 60)])
        #expect(await refresher.refreshCount == 1)

        // A refusal of a token that was already replaced retries with the current one.
        let late = try await refresher.renew(after: stale, refusal: refusal)
        #expect(late.accessToken == "a1")
        #expect(await server.spent == ["r0"])

        // A refusal of the current token refreshes again, with the rotated refresh token.
        let next = try await refresher.renew(after: late, refusal: refusal)
        #expect(next == TokenRefresher.Credentials(accessToken: "a2", generation: 2))
        #expect(await server.spent == ["r0", "r1"])
        #expect(await recorder.pairs.map(\.refreshToken) == ["r1", "r2"])
    }

    @Test func withoutARefreshTokenARefusalNeedsSignIn() async throws {
        let server = FakeRefreshServer()
        let refresher = makeRefresher(refreshToken: nil, server: server)
        let error = await transportError { try await refresher.renew(after: await refresher.current(), refusal: refusal) }
        #expect(error?.kind == .authRequired)
        #expect(error?.status == 401)
        #expect(await server.spent.isEmpty)
    }

    @Test func aRefusedRefreshTokenIsNeverSpentAgain() async throws {
        let server = FakeRefreshServer()
        await server.fail(with: SyncTransportError(.authRequired, "spent", status: 401, code: .unauthorized))
        let refresher = makeRefresher(server: server)
        let stale = await refresher.current()
        let errors = await withTaskGroup(of: SyncTransportError?.self) { group in
            for _ in 0..<10 { group.addTask { await transportError { try await refresher.renew(after: stale, refusal: refusal) } } }
            return await group.reduce(into: [SyncTransportError?]()) { $0.append($1) }
        }
        #expect(errors.allSatisfy { $0?.kind == .authRequired })
        #expect(await server.spent == ["r0"])
        let again = await transportError { try await refresher.renew(after: stale, refusal: refusal) }
        #expect(again?.kind == .authRequired)
        #expect(await server.spent == ["r0"])
    }

    @Test func aTransientRefreshFailureKeepsTheRefreshTokenForNextTime() async throws {
        let server = FakeRefreshServer()
        await server.fail(with: SyncTransportError(.transient, "unreachable"))
        let refresher = makeRefresher(server: server)
        let stale = await refresher.current()
        let error = await transportError { try await refresher.renew(after: stale, refusal: refusal) }
        #expect(error?.kind == .transient)
        await server.fail(with: nil)
        let renewed = try await refresher.renew(after: stale, refusal: refusal)
        #expect(renewed.generation == 1)
        #expect(await server.spent == ["r0", "r0"])
        await refresher.waitUntilIdle()
    }
}
