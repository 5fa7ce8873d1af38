import FerryCore
import FerryServer
import FerryTestSupport
import Foundation
import Testing

/// Tests that measure real time over loopback. `scripts/test` runs them after the others,
/// on their own, so that the load of parallel tests on a 2-core machine does not skew them.
@Suite(.serialized, .tags(.realTime)) struct LatencyTests {
    @Test func aLongPollAnswersSoonAfterAPushAndAtTheEndOfItsWait() async throws {
        try await TestServer.with { server in
            let token = try await server.token("live")
            _ = try await server.push(.make(space: "live", [.upsert(1, key: "a")]), token: token)

            let clock = ContinuousClock()
            async let waited = server.pull("space=live&since_seq=1&wait=20", token: token)
            // Once the long-poll is held, push from another connection.
            await server.waiters.waitUntilStarted(1)
            let pushedAt = clock.now
            _ = try await server.push(.make(space: "live", device: "other", [.upsert(1, key: "b")]), token: token)
            let answer = try await waited
            let elapsed = clock.now - pushedAt
            let page = try answer.decode(PullResponse.self)
            #expect(page.mutations.map(\.seq) == [2])
            #expect(elapsed < .milliseconds(100), "answered \(elapsed) after the push")

            // Nothing comes: an empty page after the wait.
            let start = clock.now
            let empty = try await server.pull("space=live&since_seq=2&wait=1", token: token).decode(PullResponse.self)
            let held = clock.now - start
            #expect(empty.mutations.isEmpty)
            #expect(empty.latestSeq == 2)
            #expect(held >= .milliseconds(950))
            #expect(held < .seconds(5))
        }
    }
}
