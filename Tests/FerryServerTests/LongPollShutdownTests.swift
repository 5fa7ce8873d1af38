import FerryCore
import FerryServer
import FerryTestKit
import FerryTestSupport
import ServiceLifecycleTestKit
import Testing

/// A held long-poll and a graceful shutdown, driven by ServiceLifecycleTestKit's trigger.
@Suite(.timeLimit(.minutes(1))) struct LongPollShutdownTests {
    @Test func aHeldPullAnswersAtOnceOnGracefulShutdown() async throws {
        // Time stands still: the wait cannot run out, so only the shutdown can end the pull.
        let clock = TestClock()
        try await testGracefulShutdown { trigger in
            try await TestServer.inProcess(configuration: ServerConfiguration(clock: clock), commitWatcherClock: clock) { server in
                let token = try await server.token("live")
                async let held = server.pull("space=live&since_seq=0&wait=60", token: token)
                await server.waiters.waitUntilStarted(1)
                #expect(server.waiters.counts.current == 1)

                trigger.triggerGracefulShutdown()
                let answer = try await held
                #expect(answer.status == 200)
                let page = try answer.decode(PullResponse.self)
                #expect(page.mutations.isEmpty)
                #expect(page.latestSeq == 0)
                #expect(server.waiters.counts.current == 0)
                #expect(clock.now == TestClock.Instant(offset: .zero))

                // After the shutdown began, a new long-poll does not wait either.
                let late = try await server.pull("space=live&since_seq=0&wait=60", token: token)
                #expect(late.status == 200)
                #expect(try late.decode(PullResponse.self).mutations.isEmpty)
            }
        }
    }

    @Test func withoutAShutdownTheSamePullWaitsForAPush() async throws {
        let clock = TestClock()
        try await testGracefulShutdown { _ in
            try await TestServer.inProcess(configuration: ServerConfiguration(clock: clock), commitWatcherClock: clock) { server in
                let token = try await server.token("live")
                async let held = server.pull("space=live&since_seq=0&wait=60", token: token)
                await server.waiters.waitUntilStarted(1)
                _ = try await server.push(.make(space: "live", device: "other", [.upsert(1, key: "news")]), token: token)
                let page = try await held.decode(PullResponse.self)
                #expect(page.mutations.map(\.entityKey) == ["news"])
                #expect(clock.now == TestClock.Instant(offset: .zero))
            }
        }
    }
}
