import FerryCore
import FerryHTTP
import FerryServer
import FerryTestKit
import FerryTestSupport
import Foundation
import HTTPTypes
import Logging
import NIOHTTP1
import NIOWebSocket
import Synchronization
import Testing
import WSClient

/// The live channel, `GET /sync/mutations/live`, over a real WebSocket on loopback to a
/// server on an SQLite file: its frames, its refusals before the upgrade, and its closes.
@Suite(.timeLimit(.minutes(2)))
struct LiveChannelHTTPTests {
    /// A raw WebSocket client on the live channel: each text frame goes to `frames`; answers
    /// the server's close frame.
    private static func connect(
        _ server: TestServer,
        _ query: String,
        token: String,
        frames: AsyncStream<PullResponse>.Continuation
    ) async throws -> WebSocketCloseFrame? {
        let url = "ws://" + server.http.baseURL.dropFirst("http://".count) + "/sync/mutations/live?" + query
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        defer { frames.finish() }
        return try await WebSocketClient.connect(
            url: url,
            configuration: WebSocketClientConfiguration(maxFrameSize: 1 << 20, additionalHeaders: headers),
            logger: Logger(label: "live-test")
        ) { inbound, _, _ in
            for try await message in inbound.messages(maxSize: 1 << 20) {
                if case .text(let text) = message { frames.yield(try PullResponse(jsonBytes: Array(text.utf8))) }
            }
        }
    }

    @Test func theFirstFrameComesAtOnceThenOthersPushesInPagesButNotTheDevicesOwn() async throws {
        try await TestServer.with { server in
            let token = try await server.token("live")
            try await using(server.transport(accessToken: token)) { transport in
                var pages = transport.liveChanges(space: "live", since: 0, excludeDevice: "me", limit: 2).makeAsyncIterator()
                let first = try #require(try await pages.next())
                #expect(first.mutations.isEmpty)
                #expect(first.headSeq == 0)
                #expect(!first.logID.isEmpty)

                _ = try await server.push(.make(space: "live", device: "me", [.upsert(1, key: "own")]), token: token)
                _ = try await server.push(
                    .make(space: "live", device: "other", [.upsert(1, key: "a"), .upsert(2, key: "b"), .upsert(3, key: "c")]),
                    token: token
                )
                let second = try #require(try await pages.next())
                let third = try #require(try await pages.next())
                #expect(second.mutations.map(\.entityKey) == ["a", "b"])
                #expect(second.hasMore)
                #expect(third.mutations.map(\.entityKey) == ["c"])
                #expect(!third.hasMore)
                #expect(third.latestSeq == 4)
            }
        }
    }

    @Test func theTransportReportsRefusalsAsThePullDoes() async throws {
        try await TestServer.with(configuration: ServerConfiguration(maxLongPollsPerToken: 1)) { server in
            let token = try await server.token("live")
            let otherSpace = try await server.token("elsewhere")
            try await using(server.transport(accessToken: token)) { transport in
                let ahead = await transportError {
                    for try await _ in transport.liveChanges(space: "live", since: 9, excludeDevice: nil) {}
                }
                #expect(ahead?.kind == .cursorAhead)

                // One channel held; a second one of the same token is over the limit.
                var held = transport.liveChanges(space: "live", since: 0, excludeDevice: nil).makeAsyncIterator()
                _ = try await held.next()
                let limited = await transportError {
                    for try await _ in transport.liveChanges(space: "live", since: 0, excludeDevice: nil) {}
                }
                #expect(limited?.retryAfter == .seconds(5))
            }
            try await using(server.transport(accessToken: otherSpace)) { transport in
                let error = await transportError {
                    for try await _ in transport.liveChanges(space: "live", since: 0, excludeDevice: nil) {}
                }
                #expect(error?.kind == .policyForbidden)
            }
            try await using(server.transport(accessToken: "fat_unknown")) { transport in
                let error = await transportError {
                    for try await _ in transport.liveChanges(space: "live", since: 0, excludeDevice: nil) {}
                }
                #expect(error?.kind == .authRequired)
            }
        }
    }

    @Test func aGracefulShutdownClosesTheChannelWithGoingAway() async throws {
        let (frames, continuation) = AsyncStream.makeStream(of: PullResponse.self)
        let closed = Mutex<Task<WebSocketCloseFrame?, any Error>?>(nil)
        try await TestServer.with { server in
            let token = try await server.token("live")
            let task = Task { try await Self.connect(server, "space=live&since_seq=0", token: token, frames: continuation) }
            closed.withLock { $0 = task }
            var iterator = frames.makeAsyncIterator()
            _ = try #require(await iterator.next())
            // Returning shuts the server down gracefully.
        }
        let frame = try await closed.withLock { $0 }?.value
        #expect(frame?.closeCode == .goingAway)
    }

    @Test func aRevokedOrExpiredTokenClosesTheChannelAtTheNextCheck() async throws {
        let clock = TestClock()
        let wall = ManualWallClock()
        var configuration = ServerConfiguration(clock: clock)
        configuration.liveTokenRecheck = .seconds(30)
        try await TestServer.with(configuration: configuration, wallClock: wall.clock) { server in
            // Revoked.
            let issued = try await server.tokens.issue(spaces: ["live"], accessTTL: 3600)
            let (frames, continuation) = AsyncStream.makeStream(of: PullResponse.self)
            let revoked = Task { try await Self.connect(server, "space=live&since_seq=0", token: issued.accessToken, frames: continuation) }
            var iterator = frames.makeAsyncIterator()
            _ = try #require(await iterator.next())
            await clock.waitForSleepers(1)
            clock.advance(by: .seconds(30))
            await clock.waitForSleepers(1)
            #expect(try await server.tokens.revoke(grantID: issued.grantID))
            clock.advance(by: .seconds(30))
            let frame = try await revoked.value
            #expect(frame?.closeCode == .unknown(4401))
            #expect(frame?.reason?.contains("unauthorized") == true)

            // Expired.
            let expiring = try await server.tokens.issue(spaces: ["live"], accessTTL: 60)
            let (frames2, continuation2) = AsyncStream.makeStream(of: PullResponse.self)
            let expired = Task {
                try await Self.connect(server, "space=live&since_seq=0", token: expiring.accessToken, frames: continuation2)
            }
            var iterator2 = frames2.makeAsyncIterator()
            _ = try #require(await iterator2.next())
            await clock.waitForSleepers(1)
            wall.advance(seconds: 61)
            clock.advance(by: .seconds(30))
            #expect(try await expired.value?.closeCode == .unknown(4401))
        }
    }

    @Test func aFailedReadAfterTheUpgradeClosesWith4000PlusItsStatus() async throws {
        try await TestServer.with { server in
            let token = try await server.token("live")
            for (error, code) in [
                (FerryError(.historyPruned, "the history below seq 3 was pruned"), UInt16(4410)),
                (FerryError(.unavailable, "the storage is unavailable, retry later"), UInt16(4503)),
            ] {
                let (frames, continuation) = AsyncStream.makeStream(of: PullResponse.self)
                let channel = Task {
                    try await Self.connect(server, "space=live&since_seq=0&exclude_device=me", token: token, frames: continuation)
                }
                var iterator = frames.makeAsyncIterator()
                let first = try #require(await iterator.next())
                // A commit the channel reads through the failing store: the store itself takes it.
                server.outage.set(failing: error)
                _ = try await server.eventLog.append(
                    AppendBatch(
                        space: "live",
                        deviceID: "other",
                        sessionID: "s",
                        mutations: [
                            NewMutation(clientActionID: first.headSeq + 1, entity: "note", entityKey: "k", op: .delete, payload: nil)
                        ]
                    )
                )
                let close = try await channel.value
                server.outage.set(failing: nil)
                #expect(close?.closeCode == .unknown(code))
                #expect(close?.reason?.contains(error.code.rawValue) == true, "\(String(describing: close?.reason))")
            }
        }
    }

    @Test func aDataFrameFromTheClientClosesWithPolicyViolation() async throws {
        try await TestServer.with { server in
            let token = try await server.token("live")
            let url = "ws://" + server.http.baseURL.dropFirst("http://".count) + "/sync/mutations/live?space=live&since_seq=0"
            var headers = HTTPFields()
            headers[.authorization] = "Bearer \(token)"
            let close = try await WebSocketClient.connect(
                url: url,
                configuration: WebSocketClientConfiguration(additionalHeaders: headers),
                logger: Logger(label: "live-test")
            ) { inbound, outbound, _ in
                var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                _ = try await messages.next()
                try await outbound.write(.text("hello"))
                while try await messages.next() != nil {}
            }
            #expect(close?.closeCode == .policyViolation)
        }
    }

    @Test func fortyChannelsWokenByOnePushShareTheRead() async throws {
        try await TestServer.with(configuration: ServerConfiguration(maxLongPollsPerToken: 64)) { server in
            let token = try await server.token("live")
            let (frames, continuation) = AsyncStream.makeStream(of: PullResponse.self)
            let clients = (0..<40).map { index in
                Task {
                    try await Self.connect(server, "space=live&since_seq=0&exclude_device=d\(index)", token: token, frames: continuation)
                }
            }
            var iterator = frames.makeAsyncIterator()
            for _ in 0..<40 { _ = try #require(await iterator.next()) }
            await server.waiters.waitUntil { $0.current >= 40 }
            let readsBefore = server.outage.pagesRead
            server.outage.holdPageReads()
            _ = try await server.push(.make(space: "live", device: "writer", [.upsert(1, key: "news")]), token: token)
            await server.waiters.waitUntil { $0.current == 0 }
            server.outage.releasePageReads()
            for _ in 0..<40 {
                let page = try #require(await iterator.next())
                #expect(page.mutations.map(\.entityKey) == ["news"])
            }
            let reads = server.outage.pagesRead - readsBefore
            #expect(reads < 40, "the 40 channels woken by one push share reads (\(reads) reads)")
            for client in clients { client.cancel() }
        }
    }
}
