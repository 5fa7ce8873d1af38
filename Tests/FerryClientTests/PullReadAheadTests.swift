import FerryClient
import FerryCore
import FerryTestKit
import Synchronization
import Testing

@Suite struct PullReadAheadTests {
    private static func filled(_ count: Int, devices: [String] = ["w"]) async throws -> InMemoryTransport {
        let server = InMemoryTransport()
        for start in stride(from: 0, to: count, by: 250) {
            let device = devices[(start / 250) % devices.count]
            let inputs = (start..<min(start + 250, count)).map { index in
                MutationInput(clientActionID: Int64(index + 1), entity: "note", entityKey: "k\(index)", op: .upsert, payload: .object([:]))
            }
            _ = try await server.push(PushRequest(space: "s", deviceID: device, sessionID: "1", mutations: inputs))
        }
        return server
    }

    /// Reads every page as a client does, handing each page's cursor back.
    private static func readAll(_ pages: inout PullReadAhead) async throws -> [Int64] {
        var seqs: [Int64] = []
        var since: Int64 = 0
        while true {
            let page = try await pages.page(since: since)
            pages.fetchAhead(after: page)
            seqs += page.mutations.map(\.seq)
            since = page.latestSeq
            if !page.hasMore { return seqs }
        }
    }

    @Test func everyMutationOnceAndInOrderWithRequestsAhead() async throws {
        let server = try await Self.filled(1234)
        var pages = PullReadAhead(transport: server, space: "s", limit: 100)
        let seqs = try await Self.readAll(&pages)
        #expect(seqs == Array(1...1234))
        // 13 pages, each asked for once: the pages guessed ahead were the right ones, and
        // none was asked for beyond the head.
        #expect(server.callCounts.pull == 13)
    }

    @Test func theNextTwoPagesAreRequestedBeforeTheyAreAskedFor() async throws {
        let server = try await Self.filled(1000)
        var pages = PullReadAhead(transport: server, space: "s", limit: 100)
        let first = try await pages.page(since: 0)
        pages.fetchAhead(after: first)
        // The requests run in tasks of their own: let them reach the server (no clock involved).
        var turns = 0
        while server.callCounts.pull < 3 && turns < 100_000 {
            await Task.yield()
            turns += 1
        }
        #expect(server.callCounts.pull == 3)
        let second = try await pages.page(since: first.latestSeq)
        #expect(second.mutations.first?.seq == 101)
        #expect(server.callCounts.pull == 3)  // handed out, not requested again
        pages.cancel()
    }

    @Test func withExcludedMutationsOnlyTheNextPageIsFetchedAhead() async throws {
        let server = try await Self.filled(1000, devices: ["w", "me"])
        var pages = PullReadAhead(transport: server, space: "s", limit: 100, excludeDevice: "me")
        let seqs = try await Self.readAll(&pages)
        #expect(seqs == (1...1000).filter { (($0 - 1) / 250) % 2 == 0 }.map(Int64.init))
        #expect(server.callCounts.pull == 6)
    }

    @Test func aPageForAnotherCursorIsDroppedNotHandedOut() async throws {
        let server = try await Self.filled(500)
        var pages = PullReadAhead(transport: server, space: "s", limit: 100)
        let first = try await pages.page(since: 0)
        pages.fetchAhead(after: first)  // 100 and 200 on their way
        // The caller starts over (a reset): it gets the page it asks for.
        let again = try await pages.page(since: 0)
        #expect(again.mutations.first?.seq == 1)
        let later = try await pages.page(since: 300)
        #expect(later.mutations.first?.seq == 301)
        pages.cancel()
    }

    @Test func droppingTheReadAheadCancelsTheRequestsOnTheirWay() async throws {
        let server = HangingTransport()
        do {
            var pages = PullReadAhead(transport: server, space: "s", limit: 1)
            let first = try await pages.page(since: 0)
            pages.fetchAhead(after: first)  // 1 and 2 on their way, and never answered
        }
        // Its owner is gone: both requests end, cancelled (no clock involved).
        var turns = 0
        while server.counts.withLock({ $0.cancelled }) < 2 && turns < 100_000 {
            await Task.yield()
            turns += 1
        }
        #expect(server.counts.withLock { $0 } == HangingTransport.Counts(started: 2, cancelled: 2))
    }
}

/// A transport whose first page says more follows, and whose later pages never come: a
/// request for them waits until it is cancelled.
final class HangingTransport: SyncTransport {
    struct Counts: Equatable {
        var started = 0
        var cancelled = 0
    }

    let counts = Mutex(Counts())
    /// The writers of the streams the waiting requests read, kept so that the streams stay open.
    private let streams = Mutex<[AsyncStream<Int>.Continuation]>([])

    func push(_ request: PushRequest) async throws -> PushResponse {
        throw SyncTransportError(.permanent, "this transport only pulls")
    }

    func pull(space: String, since: Int64, limit: Int?, excludeDevice: String?, wait: Duration?) async throws -> PullResponse {
        if since == 0 {
            let first = LoggedMutation(
                seq: 1,
                deviceID: "w",
                sessionID: "1",
                mutation: MutationInput(clientActionID: 1, entity: "note", entityKey: "k", op: .upsert, payload: .object([:])),
                occurredAtMilliseconds: 1_763_856_000_000
            )
            return PullResponse(mutations: [first], hasMore: true, latestSeq: 1, headSeq: 1000, logID: "log")
        }
        counts.withLock { $0.started += 1 }
        // A stream nobody writes to: its iteration ends only when the task is cancelled.
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        streams.withLock { $0.append(continuation) }
        for await _ in stream {}
        counts.withLock { $0.cancelled += 1 }
        throw CancellationError()
    }
}
