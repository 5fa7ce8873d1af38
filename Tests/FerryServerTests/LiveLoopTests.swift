import FerryCore
import FerryServer
import FerryTestKit
import FerryTestSupport
import Synchronization
import Testing

/// The live channel's loop (`SyncEndpoints.live`), without sockets: the pages it sends, in
/// what order, and the reads it shares with the other channels a commit wakes.
@Suite(.timeLimit(.minutes(1)))
struct LiveLoopTests {
    /// The pages a loop has sent, and a way to wait for them.
    final class Sent: Sendable {
        private let pages = Mutex<[LogPage]>([])
        func append(_ page: LogPage) { pages.withLock { $0.append(page) } }
        var all: [LogPage] { pages.withLock { $0 } }
        func waitFor(_ count: Int) async {
            while pages.withLock({ $0.count }) < count { await Task.yield() }
        }
    }

    private static func push(_ endpoints: SyncEndpoints, from device: String, _ ids: ClosedRange<Int64>) async throws {
        let mutations = ids.map { MutationInput.upsert($0, key: "\(device)-\($0)") }
        _ = try await endpoints.push(PushEnvelope(.make(space: "fan", device: device, mutations))) { _ in }
    }

    @Test func theLoopSendsOthersMutationsInPagesAndSkipsTheDevicesOwn() async throws {
        let clock = TestClock()
        var configuration = ServerConfiguration()
        configuration.clock = clock
        let waiters = LongPollWaiters()
        let memory = MemoryEventLog(watcher: CommitWatcher(clock: clock, onWaitersChanged: waiters.changed(by:)))
        let endpoints = SyncEndpoints(eventLog: memory, configuration: configuration)
        let query = try PullQuery(space: "fan", since: 0, limit: 2, excludeDevice: "me", wait: nil, configuration: configuration)

        let first = try await endpoints.liveFirstPage(query)
        #expect(first.mutations.isEmpty)
        #expect(first.headSeq == 0)
        let sent = Sent()
        let loop = Task { try await endpoints.live(query, after: first) { sent.append($0) } }

        // The device's own commits move the cursor without a page.
        await waiters.waitUntil { $0.current == 1 }
        try await Self.push(endpoints, from: "me", 1...1)
        await waiters.waitUntil { $0.started == 2 && $0.current == 1 }
        #expect(sent.all.isEmpty)

        // Five from another device, limit 2: three pages at once, in order, has_more on the first two.
        try await Self.push(endpoints, from: "other", 1...5)
        await sent.waitFor(3)
        let pages = sent.all
        #expect(pages.map { $0.mutations.map(\.seq) } == [[2, 3], [4, 5], [6]])
        #expect(pages.map(\.hasMore) == [true, true, false])
        #expect(pages.last?.latestSeq == 6)

        loop.cancel()
        #expect(try await loop.value == .cancelled)
        #expect(clock.now == TestClock.Instant(offset: .zero), "no wait ran out")
    }

    @Test func aCursorAboveTheHeadIsRefusedBeforeTheLoop() async throws {
        let configuration = ServerConfiguration()
        let endpoints = SyncEndpoints(eventLog: MemoryEventLog(), configuration: configuration)
        let query = try PullQuery(space: "fan", since: 7, limit: nil, excludeDevice: nil, wait: nil, configuration: configuration)
        await #expect(throws: FerryError.self) { try await endpoints.liveFirstPage(query) }
    }

    @Test func theChannelsACommitWakesShareOneRead() async throws {
        let fixture = SharedReadsFixture()
        let (configuration, waiters, outage, endpoints) = (fixture.configuration, fixture.waiters, fixture.outage, fixture.endpoints)
        let sent = Sent()
        let loops = try await (0..<40).asyncMap { index in
            let query = try PullQuery(
                space: "fan",
                since: 0,
                limit: nil,
                excludeDevice: "dev-\(index)",
                wait: nil,
                configuration: configuration
            )
            let first = try await endpoints.liveFirstPage(query)
            return Task { try await endpoints.live(query, after: first) { sent.append($0) } }
        }
        await waiters.waitUntil { $0.current == 40 }
        let readsBefore = outage.pagesRead
        outage.holdPageReads()
        try await Self.push(endpoints, from: "writer", 1...1)
        while endpoints.wakeUpReads.callersAwaiting < 40 { await Task.yield() }
        outage.releasePageReads()
        await sent.waitFor(40)
        #expect(outage.pagesRead - readsBefore == 1, "one read for 40 woken channels")
        #expect(sent.all.allSatisfy { $0.mutations.map(\.seq) == [1] })
        for loop in loops { loop.cancel() }
        for loop in loops { #expect(try await loop.value == .cancelled) }
    }
}

extension Sequence {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var mapped: [T] = []
        for element in self { mapped.append(try await transform(element)) }
        return mapped
    }
}
