import FerryCore
import FerryServer
import FerryTestKit
import FerryTestSupport
import Testing

/// The long-polls one commit wakes share one read of the space, and each still gets the
/// page a read of its own would have answered.
@Suite(.timeLimit(.minutes(1)))
struct WakeUpReadsTests {
    private static func push(_ endpoints: SyncEndpoints, from device: String, _ id: Int64, key: String) async throws {
        _ = try await endpoints.push(PushEnvelope(.make(space: "fan", device: device, [.upsert(id, key: key)]))) { _ in }
    }

    @Test func theLongPollsACommitWakesShareOneReadOfTheStore() async throws {
        let fixture = SharedReadsFixture()
        let (clock, configuration, waiters, outage, endpoints) = (
            fixture.clock, fixture.configuration, fixture.waiters, fixture.outage, fixture.endpoints
        )
        try await Self.push(endpoints, from: "writer", 1, key: "first")

        let devices = (0..<40).map { "dev-\($0)" } + ["writer"]
        try await withThrowingTaskGroup(of: (String, LogPage).self) { group in
            for device in devices {
                let query = try PullQuery(
                    space: "fan",
                    since: 1,
                    limit: nil,
                    excludeDevice: device,
                    wait: .seconds(60),
                    configuration: configuration
                )
                group.addTask { (device, try await endpoints.pull(query)) }
            }
            await waiters.waitUntil { $0.current == devices.count }
            let readsBefore = outage.pagesRead

            // Hold the store's reads until every woken long-poll has asked for its page.
            outage.holdPageReads()
            try await Self.push(endpoints, from: "writer", 2, key: "news")
            while endpoints.wakeUpReads.callersAwaiting < devices.count { await Task.yield() }
            outage.releasePageReads()

            var pages: [String: LogPage] = [:]
            for _ in 0..<40 {
                let (device, page) = try #require(await group.next())
                pages[device] = page
            }
            #expect(outage.pagesRead - readsBefore == 1, "one read for 41 woken long-polls")
            #expect(pages.count == 40)
            #expect(pages["writer"] == nil, "the writer's own mutation does not answer its long-poll")
            for (_, page) in pages {
                #expect(page.mutations.map(\.entityKey) == ["news"])
                #expect(page.latestSeq == 2)
                #expect(page.headSeq == 2)
            }

            // The writer went on waiting above its own mutation; another device's wakes it.
            await waiters.waitUntil { $0.current == 1 }
            try await Self.push(endpoints, from: "dev-0", 1, key: "reply")
            let (device, page) = try #require(await group.next())
            #expect(device == "writer")
            #expect(page.mutations.map(\.entityKey) == ["reply"])
            #expect(page.latestSeq == 3)
        }
        #expect(clock.now == TestClock.Instant(offset: .zero), "no wait ran out")
    }

    /// Every page taken from a shared read equals the store's read with the exclusion, and
    /// one is taken whenever the shared read was short.
    @Test func aPageTakenFromTheSharedReadIsTheStoresOwn() async throws {
        let log = MemoryEventLog()
        let devices = ["a", "b", "c"]
        for index in 0..<30 {
            let device = devices[(index * 7 + index / 4) % 3]
            _ = try await log.append(
                AppendBatch(
                    space: "fan",
                    deviceID: device,
                    sessionID: "s",
                    mutations: [
                        NewMutation(clientActionID: Int64(index + 1), entity: "note", entityKey: "k\(index)", op: .delete, payload: nil)
                    ]
                )
            )
        }
        var taken = 0
        for since in Int64(0)...30 {
            for limit in 1...12 {
                let shared = try await log.read(space: "fan", since: since, limit: limit, excludingDevice: nil)
                for device in devices + ["none"] {
                    let own = WakeUpReads.page(of: shared, excluding: device, limit: limit)
                    if shared.mutations.count < limit { #expect(own != nil) }
                    guard let own else { continue }
                    taken += 1
                    let expected = try await log.read(space: "fan", since: since, limit: limit, excludingDevice: device)
                    #expect(own == expected, "since \(since), limit \(limit), excluding \(device)")
                }
            }
        }
        #expect(taken > 31 * 12, "pages were taken for excluded devices too, not only for \"none\"")
    }
}
