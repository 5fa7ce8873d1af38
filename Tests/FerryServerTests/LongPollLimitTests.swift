import FerryCore
import FerryServer
import FerryTestKit
import FerryTestSupport
import Foundation
import NIOHTTP1
import Testing

/// The long-polls a server holds are bounded per token and in total; the excess is answered
/// at once, never held: with its page when there is something new, else `429 rate_limited`
/// and `Retry-After`. Over real HTTP; time stands still, so a held pull ends only by a push
/// or the server's shutdown.
@Suite(.timeLimit(.minutes(1)))
struct LongPollLimitTests {
    private static let limits = ServerConfiguration(maxLongPollsPerToken: 2, maxLongPolls: 3, longPollRetryAfter: .seconds(7))

    @Test func theExcessGets429WithRetryAfterAndTheErrorBodyAndIsNotHeld() async throws {
        let clock = TestClock()
        var configuration = Self.limits
        configuration.clock = clock
        try await TestServer.with(configuration: configuration, commitWatcherClock: clock) { server in
            let first = try await server.token("live")
            let second = try await server.token("live")
            let wait = "space=live&since_seq=0&wait=60"

            async let a1 = server.pull(wait, token: first)
            async let a2 = server.pull(wait, token: first)
            await server.waiters.waitUntil { $0.current == 2 }
            // A third of the same token: refused at once, not held.
            let perToken = try await server.pull(wait, token: first)
            #expect(perToken.status == 429)
            #expect(perToken.errorCode == "rate_limited")
            #expect(perToken.headers.first(name: "Retry-After") == "7")
            #expect(server.waiters.counts.started == 2)
            // A pull that does not wait is never limited.
            #expect(try await server.pull("space=live&since_seq=0", token: first).status == 200)

            // Another token may hold one more, then the server is full.
            async let b1 = server.pull(wait, token: second)
            await server.waiters.waitUntil { $0.current == 3 }
            let total = try await server.pull(wait, token: second)
            #expect(total.status == 429)
            #expect(total.errorCode == "rate_limited")
            #expect(total.headers.first(name: "Retry-After") == "7")

            // With something new, the excess is answered at once with it.
            _ = try await server.push(.make(space: "live", device: "writer", [.upsert(1, key: "news")]), token: second)
            for held in try await [a1, a2, b1] {
                #expect(held.status == 200)
                #expect(try held.decode(PullResponse.self).mutations.map(\.entityKey) == ["news"])
            }
            await server.waiters.waitUntil { $0.current == 0 }

            // The places were given back: the same token may hold two again.
            async let c1 = server.pull("space=live&since_seq=1&wait=60", token: first)
            async let c2 = server.pull("space=live&since_seq=1&wait=60", token: first)
            await server.waiters.waitUntil { $0.current == 2 }
            let overWithNews = try await server.pull(wait, token: first)
            #expect(overWithNews.status == 200, "answered with the page it can have, not refused")
            #expect(try overWithNews.decode(PullResponse.self).mutations.map(\.entityKey) == ["news"])
            _ = try await server.push(.make(space: "live", device: "writer", [.upsert(2, key: "more")]), token: second)
            #expect(try await c1.status == 200)
            #expect(try await c2.status == 200)
            #expect(clock.now == TestClock.Instant(offset: .zero), "no wait ran out: every answer came from a push or a refusal")

            let metrics = try await server.request(.GET, "/metrics").text
            #expect(metrics.contains(#"ferry_longpoll_refused_total{limit="per_token"} 1"#))
            #expect(metrics.contains(#"ferry_longpoll_refused_total{limit="total"} 1"#))
        }
    }

    @Test func zeroAllowsNoLongPollButEveryPlainPull() async throws {
        var configuration = ServerConfiguration(maxLongPollsPerToken: 0)
        configuration.clock = TestClock()
        try await TestServer.with(configuration: configuration) { server in
            let token = try await server.token("live")
            let refused = try await server.pull("space=live&since_seq=0&wait=30", token: token)
            #expect(refused.status == 429)
            #expect(refused.errorCode == "rate_limited")
            #expect(refused.headers.first(name: "Retry-After") == "5")
            #expect(try await server.pull("space=live&since_seq=0&wait=0", token: token).status == 200)
            #expect(server.waiters.counts.started == 0)
        }
    }
}
