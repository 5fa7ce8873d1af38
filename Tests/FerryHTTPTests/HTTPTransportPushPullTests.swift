import FerryCore
import FerryHTTP
import FerryTestSupport
import Foundation
import Testing

/// Push, pull and long-poll through `HTTPTransport` against a real server over loopback.
@Suite struct HTTPTransportPushPullTests {
    @Test func pushThenPullRoundTripsWithExcludeDeviceAndLimit() async throws {
        try await TestServer.with { server in
            let token = try await server.token("notes")
            try await using(server.transport(accessToken: token)) { transport in
                let oddDevice = "dev a&b=c+d%20#?/"
                var rich = MutationInput.upsert(1, key: "n1", baseSeq: 0)
                rich.payload = .object(["title": .string("Groceries & co"), "n": .int(3), "tags": .array([.bool(true), .null])])
                rich.clientTimestamp = "2026-11-22T10:00:00Z"
                let mine = try await transport.push(.make(space: "notes", device: oddDevice, [rich, .upsert(2, key: "n2")]))
                #expect(mine.accepted == 2)
                #expect(mine.acks == [MutationAck(clientActionID: 1, seq: 1), MutationAck(clientActionID: 2, seq: 2)])
                #expect(mine.rejected.isEmpty)
                #expect(mine.headSeq == 2)

                let theirs = try await transport.push(.make(space: "notes", device: "other", (1...3).map { .upsert($0, key: "o\($0)") }))
                #expect(theirs.acks.map(\.seq) == [3, 4, 5])
                #expect(theirs.logID == mine.logID)

                let all = try await transport.pull(space: "notes", since: 0, limit: nil, excludeDevice: nil, wait: nil)
                #expect(all.mutations.map(\.seq) == [1, 2, 3, 4, 5])
                #expect(all.latestSeq == 5)
                #expect(!all.hasMore)
                let first = try #require(all.mutations.first)
                #expect(first.payload == rich.payload)
                #expect(first.deviceID == oddDevice)
                #expect(first.baseSeq == 0)
                #expect(first.clientTimestamp == "2026-11-22T10:00:00Z")

                // Percent-encoding keeps the whole device id: only its mutations are left out.
                let others = try await transport.pull(space: "notes", since: 0, limit: nil, excludeDevice: oddDevice, wait: nil)
                #expect(others.mutations.map(\.deviceID) == ["other", "other", "other"])
                #expect(others.mutations.map(\.seq) == [3, 4, 5])
                #expect(others.latestSeq == 5)

                let page = try await transport.pull(space: "notes", since: 0, limit: 2, excludeDevice: "other", wait: nil)
                #expect(page.mutations.map(\.seq) == [1, 2])
                #expect(page.latestSeq == 2)
                #expect(page.hasMore)
                #expect(page.headSeq == 5)

                // The cursor passes over the excluded device's mutations.
                let rest = try await transport.pull(space: "notes", since: 2, limit: 2, excludeDevice: "other", wait: nil)
                #expect(rest.mutations.isEmpty)
                #expect(rest.latestSeq == 5)
                #expect(!rest.hasMore)
            }
        }
    }

    @Test func aDuplicatePushIsReportedWithItsSeq() async throws {
        try await TestServer.with { server in
            let token = try await server.token("notes")
            try await using(server.transport(accessToken: token, shared: true)) { transport in
                let push = PushRequest.make(space: "notes", [.upsert(1, key: "a")])
                _ = try await transport.push(push)
                let again = try await transport.push(push)
                #expect(again.accepted == 0)
                #expect(again.rejected == [MutationRejection(clientActionID: 1, reason: .duplicate, seq: 1)])
            }
            // The server's own client was lent, not owned: it still works after shutdown.
            #expect(try await server.pull("space=notes&since_seq=0", token: token).status == 200)
        }
    }

    @Test func aLongPollReturnsTheMutationAnotherTransportPushes() async throws {
        try await TestServer.with { server in
            let token = try await server.token("notes")
            let reader = server.transport(accessToken: token)
            let writer = server.transport(accessToken: token)
            try await using(reader) { reader in
                try await using(writer) { writer in
                    _ = try await writer.push(.make(space: "notes", device: "w", [.upsert(1, key: "before")]))
                    async let held = reader.pull(space: "notes", since: 1, limit: nil, excludeDevice: nil, wait: .seconds(20))
                    // Push only once the server holds the pull, so that an answer proves the wait.
                    await server.waiters.waitUntilStarted(1)
                    _ = try await writer.push(.make(space: "notes", device: "w", [.upsert(2, key: "after", title: "news")]))
                    let page = try await held
                    #expect(page.mutations.map(\.seq) == [2])
                    #expect(page.mutations.first?.entityKey == "after")
                    #expect(page.mutations.first?.payload == .object(["title": .string("news")]))
                    #expect(page.latestSeq == 2)
                }
            }
        }
    }
}

/// Timing tests of the transport: `scripts/test` runs them on their own, after the others,
/// so that parallel load on a small machine does not skew them.
@Suite(.tags(.realTime)) struct HTTPTransportLatencyTests {
    @Test func aLongPollWithNothingNewAnswersAnEmptyPageAfterTheWaitEvenBeyondTheRequestTimeout() async throws {
        try await TestServer.with { server in
            let token = try await server.token("notes")
            // The wait (1.5 s) is longer than the request timeout (1 s): the transport adds them up.
            try await using(server.transport(accessToken: token, requestTimeout: .seconds(1))) { transport in
                _ = try await transport.push(.make(space: "notes", [.upsert(1, key: "a")]))
                let clock = ContinuousClock()
                let start = clock.now
                let page = try await transport.pull(space: "notes", since: 1, limit: nil, excludeDevice: nil, wait: .milliseconds(1500))
                let elapsed = clock.now - start
                #expect(page.mutations.isEmpty)
                #expect(page.latestSeq == 1)
                #expect(page.headSeq == 1)
                #expect(!page.hasMore)
                #expect(elapsed >= .milliseconds(1400), "the server did not hold the pull: \(elapsed)")
            }
        }
    }
}
