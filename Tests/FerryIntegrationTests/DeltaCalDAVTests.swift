import FerryClient
import FerryCore
import FerryHTTP
import FerryTestKit
import FerryTestSupport
import Foundation
import GRDB
import Synchronization
import Testing

/// `DeltaSync` end to end: `CalDAVSource` and `CardDAVSource` against a real Radicale, into a
/// `LocalStore`'s delta table, with the orchestrator's waits on an `ImmediateClock`.
@Suite(.serialized, .tags(.realTime), .enabled(if: RadicaleServer.isAvailable, "needs the Radicale that scripts/test installs"))
struct DeltaCalDAVTests {
    /// Collects a run's batch sizes.
    private final class Batches: Sendable {
        private let sizes = Mutex<(updated: [Int], deleted: [Int])>(([], []))

        var updated: [Int] { sizes.withLock { $0.updated } }
        var deleted: [Int] { sizes.withLock { $0.deleted } }

        func record(_ event: DeltaSyncEvent) {
            switch event {
            case .updatedBatch(_, let count, _, _): sizes.withLock { $0.updated.append(count) }
            case .deletedBatch(_, let count, _, _): sizes.withLock { $0.deleted.append(count) }
            default: break
            }
        }
    }

    private func sync(_ source: some DeltaSource, into device: DeltaDevice, batches: Batches? = nil) async throws -> DeltaSyncResult {
        try await DeltaSync(source: source, sink: device.sink, clock: ImmediateClock(), onEvent: { batches?.record($0) }).run()
    }

    private func events(_ range: Range<Int>, version: Int = 1) -> [String] {
        range.map { index in
            DAVFixture.event(
                uid: "event-\(index)",
                summary: "Café ☕ 東京 #\(index) v\(version)",
                description: index % 3 == 0 ? DAVFixture.longText : nil
            )
        }
    }

    @Test func aCalendarSyncsInFullThenByItsChanges() async throws {
        try await RadicaleServer.with { server in
            let url = try await server.putCalendar("work", events: events(0..<300))
            let source = CalDAVSource(
                collectionURL: url,
                username: server.username,
                password: server.password,
                configuration: .init(pageSize: 128)
            )
            let device = try DeltaDevice()

            let batches = Batches()
            let first = try await sync(source, into: device, batches: batches)
            #expect(first.fullResync)
            #expect(first.updated == 300)
            #expect(first.deleted == 0)
            #expect(batches.updated == [128, 128, 44])
            #expect(try await device.texts(url) == server.members(of: url), "every row byte for byte as a GET answers it")
            #expect(try await device.sink.tokens(stream: url) == first.tokens)

            for index in 10..<15 {
                try await server.put(events(index..<index + 1, version: 2)[0], as: "event-\(index).ics", in: url)
            }
            for index in 20..<27 { try await server.delete(url + "event-\(index).ics") }
            for index in 300..<303 { try await server.put(events(index..<index + 1)[0], as: "event-\(index).ics", in: url) }
            let second = try await sync(source, into: device)
            #expect(!second.fullResync)
            #expect(second.updated == 8)
            #expect(second.deleted == 7)
            let rows = try await device.texts(url)
            #expect(rows.count == 296)
            #expect(rows == (try await server.members(of: url)))

            let third = try await sync(source, into: device)
            #expect(third.updated == 0 && third.deleted == 0)
            #expect(third.tokens == second.tokens)
        }
    }

    @Test func aCalendarCreatedAgainIsSyncedInFullAndTheRestSwept() async throws {
        try await RadicaleServer.with { server in
            let url = try await server.putCalendar("home", events: events(0..<40))
            let source = CalDAVSource(collectionURL: url, username: server.username, password: server.password)
            let device = try DeltaDevice()
            let first = try await sync(source, into: device)
            #expect(first.updated == 40)

            // The same URL, other events: ten of the old hrefs with new text, five new ones.
            try await server.delete(url)
            try await server.putCalendar("home", events: events(0..<10, version: 2) + events(100..<105))
            let second = try await sync(source, into: device)
            #expect(second.tokensRejected)
            #expect(second.fullResync)
            #expect(second.updated == 15)
            #expect(second.swept == 30)
            let rows = try await device.texts(url)
            #expect(rows == (try await server.members(of: url)))
            #expect(rows.count == 15)
            #expect((0..<10).allSatisfy { rows["/\(server.username)/home/event-\($0).ics"]?.contains(" v2\r\n") == true })
        }
    }

    @Test func anAddressBookSyncsThenResyncsWhenCreatedAgain() async throws {
        try await RadicaleServer.with { server in
            let url = try await server.makeAddressBook("contacts")
            let cards = (0..<40).map { index in
                (
                    name: "card-\(index).vcf",
                    text: DAVFixture.vCard(uid: "card-\(index)", name: "Zoë Ünal \(index)", note: DAVFixture.longText)
                )
            }
            try await server.put(cards, in: url)
            let source = CardDAVSource(
                collectionURL: url,
                username: server.username,
                password: server.password,
                configuration: .init(pageSize: 16)
            )
            let device = try DeltaDevice()
            let batches = Batches()
            let first = try await sync(source, into: device, batches: batches)
            #expect(first.updated == 40)
            #expect(batches.updated == [16, 16, 8])
            #expect(try await device.texts(url) == server.members(of: url))

            try await server.put(DAVFixture.vCard(uid: "card-1", name: "Zoë Ünal (renamed)"), as: "card-1.vcf", in: url)
            try await server.delete(url + "card-2.vcf")
            let second = try await sync(source, into: device)
            #expect(second.updated == 1 && second.deleted == 1 && !second.fullResync)
            #expect(try await device.texts(url) == server.members(of: url))

            try await server.delete(url)
            try await server.putAddressBook("contacts", cards: [DAVFixture.vCard(uid: "other", name: "東京 Café")])
            let third = try await sync(source, into: device)
            #expect(third.tokensRejected)
            #expect(third.swept == 39)
            let rows = try await device.texts(url)
            #expect(rows == (try await server.members(of: url)))
            #expect(rows.count == 1)
        }
    }

    @Test func aWrongPasswordFailsTheRunAndWritesNothing() async throws {
        try await RadicaleServer.with { server in
            let url = try await server.putCalendar("work", events: events(0..<3))
            let device = try DeltaDevice()
            let source = CalDAVSource(collectionURL: url, username: server.username, password: "wrong")
            let error = await #expect(throws: DeltaSyncError.self) { try await sync(source, into: device) }
            #expect(error?.code == .unauthorized)
            #expect(try await device.sink.tokens(stream: url) == nil)
            #expect(try await device.texts(url).isEmpty)
        }
    }
}
