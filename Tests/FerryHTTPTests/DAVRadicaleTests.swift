import FerryCore
import FerryHTTP
import FerryTestSupport
import Foundation
import NIOHTTP1
import Testing

/// Under CI the Radicale tests are never skipped silently.
@Test func radicaleIsThereUnderCI() {
    if PostgresTestServer.isCI {
        #expect(RadicaleServer.isAvailable, "CI=true but FERRY_TEST_RADICALE is not set: scripts/test must install Radicale")
    }
}

/// `CalDAVSource` and `CardDAVSource` against a real Radicale: full and incremental syncs, the
/// stored text equal to what a `GET` answers, a token the server forgot, wrong credentials.
@Suite(.serialized, .tags(.realTime), .enabled(if: RadicaleServer.isAvailable, "needs the Radicale that scripts/test installs"))
struct DAVRadicaleTests {
    /// Expects every record to hold exactly the body and etag a `GET` of its href answers.
    private func expectEqualToGET(_ records: [DeltaRecord], on server: RadicaleServer) async throws {
        try await withThrowingTaskGroup(of: (DeltaRecord, RadicaleServer.Answer).self) { group in
            var next = 0
            func add() {
                let record = records[next]
                next += 1
                group.addTask { (record, try await server.request("GET", server.url(ofHref: record.id))) }
            }
            for _ in 0..<min(8, records.count) { add() }
            while let (record, answer) = try await group.next() {
                #expect(answer.status == 200, "GET \(record.id)")
                #expect(Array(record.data.utf8) == answer.body, "\(record.id): the stored text differs from the GET body")
                #expect(record.etag == answer.headers.first(name: "ETag"), "\(record.id)")
                if next < records.count { add() }
            }
        }
    }

    private func events(_ range: Range<Int>, version: Int = 1) -> [(name: String, text: String)] {
        range.map { index in
            (
                name: "event-\(index).ics",
                text: DAVFixture.event(
                    uid: "event-\(index)",
                    summary: "Café ☕ 東京 #\(index) v\(version)",
                    description: index % 3 == 0 ? DAVFixture.longText : nil
                )
            )
        }
    }

    @Test func aCalendarSyncsInFullThenByItsChanges() async throws {
        try await RadicaleServer.with { server in
            let url = try await server.putCalendar("work", events: events(0..<300).map(\.text))
            let source = CalDAVSource(
                collectionURL: url,
                username: server.username,
                password: server.password,
                configuration: .init(pageSize: 128)
            )

            // The full sync: every event, in pages, byte for byte as a GET answers it.
            let start = try await source.start()
            let full = try await drainUpdated(source, from: start.tokens.updated)
            #expect(full.pages.map(\.count) == [128, 128, 44])
            let records = full.pages.flatMap { $0 }
            #expect(Set(records.map(\.id)) == Set((0..<300).map { "/\(server.username)/work/event-\($0).ics" }))
            try await expectEqualToGET(records, on: server)
            let folded = try #require(records.first { $0.id.hasSuffix("/event-3.ics") })
            #expect(folded.data.contains("\r\n "), "the long description is folded over continuation lines")
            #expect(folded.data.contains("Café ☕ 東京 #3 v1"))
            let fullDeletions = try await drainDeleted(source, from: start.tokens.deleted)
            #expect(fullDeletions.pages.joined().isEmpty)
            #expect(fullDeletions.next == full.next)

            // Changes, deletions and additions: the next run sees exactly those.
            try await server.put(events(10..<15, version: 2), in: url)
            for index in 20..<27 { try await server.delete(url + "event-\(index).ics") }
            try await server.put(events(300..<303), in: url)
            let changes = try await drainUpdated(source, from: full.next)
            let changed = changes.pages.flatMap { $0 }
            #expect(Set(changed.map(\.id)) == Set((Array(10..<15) + Array(300..<303)).map { "/\(server.username)/work/event-\($0).ics" }))
            #expect(changed.filter { $0.data.contains(" v2\r\n") }.count == 5)
            try await expectEqualToGET(changed, on: server)
            let deletions = try await drainDeleted(source, from: full.next)
            #expect(Set(deletions.pages.joined()) == Set((20..<27).map { "/\(server.username)/work/event-\($0).ics" }))
            #expect(deletions.next == changes.next)
            #expect(changes.next != full.next)

            // Nothing changed since: nothing to hand out.
            let quiet = try await drainUpdated(source, from: changes.next)
            #expect(quiet.pages.joined().isEmpty)
            #expect(try await drainDeleted(source, from: changes.next).pages.joined().isEmpty)
        }
    }

    @Test func aCalendarCreatedAgainForgetsTheOldToken() async throws {
        try await RadicaleServer.with { server in
            let url = try await server.makeCalendar("home")
            try await server.put(events(0..<3), in: url)
            let source = CalDAVSource(collectionURL: url, username: server.username, password: server.password)
            let full = try await drainUpdated(source, from: "")
            #expect(full.pages.joined().count == 3)

            try await server.delete(url)
            try await server.makeCalendar("home")
            try await server.put(events(100..<102), in: url)
            let error = await sourceError { try await source.updated(.delta(full.next)) }
            #expect(error?.code == .tokenInvalid)
            #expect(error?.status == 403)
            let deletedError = await sourceError { try await source.deleted(.delta(full.next)) }
            #expect(deletedError?.code == .tokenInvalid)

            let again = try await drainUpdated(source, from: "")
            #expect(
                Set(again.pages.joined().map(\.id)) == ["/\(server.username)/home/event-100.ics", "/\(server.username)/home/event-101.ics"]
            )
        }
    }

    @Test func wrongCredentialsAreUnauthorized() async throws {
        try await RadicaleServer.with { server in
            let url = try await server.makeCalendar("work")
            let wrong = CalDAVSource(collectionURL: url, username: server.username, password: "not-\(server.password)")
            let error = await sourceError { try await wrong.updated(.delta("")) }
            #expect(error?.code == .unauthorized)
            #expect(error?.status == 401)
            let none = CardDAVSource(collectionURL: url)
            #expect(await sourceError { try await none.updated(.delta("")) }?.code == .unauthorized)
        }
    }

    @Test func anAddressBookSyncsInFullThenByItsChanges() async throws {
        try await RadicaleServer.with { server in
            let url = try await server.makeAddressBook("contacts")
            let cards = (0..<60).map { index in
                (
                    name: "card-\(index).vcf",
                    text: DAVFixture.vCard(
                        uid: "card-\(index)",
                        name: "Zoë Ünal \(index)",
                        note: index % 4 == 0 ? DAVFixture.longText : nil
                    )
                )
            }
            try await server.put(cards, in: url)
            let source = CardDAVSource(
                collectionURL: url,
                username: server.username,
                password: server.password,
                configuration: .init(pageSize: 25)
            )
            let full = try await drainUpdated(source, from: "")
            #expect(full.pages.map(\.count) == [25, 25, 10])
            try await expectEqualToGET(full.pages.flatMap { $0 }, on: server)

            try await server.put(DAVFixture.vCard(uid: "card-1", name: "Zoë Ünal 1 (renamed)"), as: "card-1.vcf", in: url)
            try await server.delete(url + "card-2.vcf")
            try await server.put(DAVFixture.vCard(uid: "card-new", name: "東京 Café"), as: "card-new.vcf", in: url)
            let changes = try await drainUpdated(source, from: full.next)
            let changed = changes.pages.flatMap { $0 }
            #expect(Set(changed.map(\.id)) == ["/\(server.username)/contacts/card-1.vcf", "/\(server.username)/contacts/card-new.vcf"])
            try await expectEqualToGET(changed, on: server)
            let deletions = try await drainDeleted(source, from: full.next)
            #expect(deletions.pages.joined().map { $0 } == ["/\(server.username)/contacts/card-2.vcf"])
            #expect(deletions.next == changes.next)

            try await server.delete(url)
            try await server.makeAddressBook("contacts")
            try await server.put(DAVFixture.vCard(uid: "other", name: "Other"), as: "other.vcf", in: url)
            #expect(await sourceError { try await source.updated(.delta(changes.next)) }?.code == .tokenInvalid)
            let wrong = CardDAVSource(collectionURL: url, username: server.username, password: "wrong")
            #expect(await sourceError { try await wrong.updated(.delta("")) }?.code == .unauthorized)
        }
    }
}
