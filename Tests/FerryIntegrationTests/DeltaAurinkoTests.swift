import FerryClient
import FerryCore
import FerryHTTP
import FerryTestKit
import FerryTestSupport
import Foundation
import GRDB
import Testing

/// `DeltaSync` end to end: `AurinkoSource` over HTTP against the fake Aurinko server, into a
/// `LocalStore`'s delta table, with the orchestrator's waits on an `ImmediateClock`.
@Suite struct DeltaAurinkoTests {
    private func source(_ root: String, _ stream: AurinkoStream, token: String = "account-token") -> AurinkoSource {
        AurinkoSource(baseURL: root, accountToken: token, stream: stream)
    }

    @Test func aSourceNotReadyIsStartedAgainAfterAPauseUntilItIs() async throws {
        let server = FakeAurinkoServer(pageSize: 2)
        for index in 1...5 { server.upsert(.email, id: "m\(index)") }
        server.answerNotReady(starts: 2)
        let device = try DeltaDevice()
        try await server.run { root in
            let clock = ImmediateClock()
            let sync = DeltaSync(source: source(root, .email(daysWithin: 14)), sink: device.sink, clock: clock, random: { 0.5 })
            let result = try await sync.run()
            #expect(result.fullResync)
            #expect(result.updated == 5)
            // 1 then 2 seconds: the nominal start backoff.
            #expect(clock.sleeps == [.seconds(1), .seconds(2)])
            let starts = server.received.filter { $0.endpoint == .start }
            #expect(starts.count == 3)
            #expect(starts.allSatisfy { $0.query == ["daysWithin": "14"] })
            #expect(try await device.texts("email") == server.records(.email))
            #expect(try await device.sink.tokens(stream: "email") == result.tokens)
        }
    }

    @Test func aRateLimitedCallIsMadeAgainAfterItsRetryAfter() async throws {
        let server = FakeAurinkoServer(pageSize: 2)
        for index in 1...5 { server.upsert(.contacts, id: "c\(index)") }
        let device = try DeltaDevice()
        try await server.run { root in
            // Call 1 starts, 2 reads the first page, 3 would read the second.
            server.injectFault(.status(429, retryAfter: "7"), onCall: 3)
            let clock = ImmediateClock()
            let result = try await DeltaSync(source: source(root, .contacts), sink: device.sink, clock: clock).run()
            #expect(result.updated == 5)
            #expect(clock.sleeps == [.seconds(7)])
            let received = server.received
            #expect(received[2].status == 429)
            #expect(received[3].status == 200)
            #expect(received[3].pageToken != nil)
            #expect(received[3].pageToken == received[2].pageToken)
            #expect(received[3].deltaToken == nil)
            #expect(try await device.texts("contacts") == server.records(.contacts))
        }
    }

    @Test func anIncrementalSyncAppliesChangesAndDeletions() async throws {
        let server = FakeAurinkoServer(pageSize: 2)
        let from = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01
        for index in 1...4 { server.upsert(.calendar("primary"), id: "e\(index)") }
        let device = try DeltaDevice()
        try await server.run { root in
            let events = source(root, .calendar(id: "primary", timeMin: from))
            let first = try await DeltaSync(source: events, sink: device.sink, clock: ImmediateClock()).run()
            #expect(first.updated == 4)

            server.upsert(.calendar("primary"), id: "e2", json: #"{"id":"e2","etag":"v9","subject":"moved"}"#)
            server.upsert(.calendar("primary"), id: "e5")
            server.delete(.calendar("primary"), id: "e1")
            server.delete(.calendar("primary"), id: "e3")
            let second = try await DeltaSync(source: events, sink: device.sink, clock: ImmediateClock()).run()
            #expect(!second.fullResync)
            #expect(second.updated == 2)
            #expect(second.deleted == 2)
            let rows = try await device.rows("calendar:primary")
            #expect(rows.mapValues(\.data) == server.records(.calendar("primary")))
            #expect(rows["e2"]?.etag == "v9")
            #expect(server.received.filter { $0.endpoint == .start }.count == 1)
            #expect(server.received.first?.query["timeMin"] == "2026-01-01T00:00:00.000Z")
        }
    }

    @Test func aStaleTokenLeadsToAFullResyncThatEndsWithExactlyTheServersRecords() async throws {
        let server = FakeAurinkoServer(pageSize: 3)
        for index in 1...6 { server.upsert(.contacts, id: "c\(index)") }
        server.upsert(.email, id: "m1")
        let device = try DeltaDevice()
        try await server.run { root in
            _ = try await DeltaSync(source: source(root, .email()), sink: device.sink, clock: ImmediateClock()).run()
            _ = try await DeltaSync(source: source(root, .contacts), sink: device.sink, clock: ImmediateClock()).run()
            #expect(try await device.rows("contacts").count == 6)

            // The server forgets the tokens; meanwhile records go, change and arrive. The
            // deletions will never appear in a deleted drain: only the sweep removes them.
            server.resetTokens(.contacts)
            server.delete(.contacts, id: "c2")
            server.delete(.contacts, id: "c5")
            server.upsert(.contacts, id: "c3", json: #"{"id":"c3","name":"changed"}"#)
            server.upsert(.contacts, id: "c7")

            let result = try await DeltaSync(source: source(root, .contacts), sink: device.sink, clock: ImmediateClock()).run()
            #expect(result.fullResync)
            #expect(result.tokensRejected)
            #expect(result.swept == 2)
            #expect(result.updated == 5)
            #expect(try await device.texts("contacts") == server.records(.contacts))
            #expect(try await device.texts("email") == server.records(.email))  // another stream is left alone
            let calls = server.received.filter { $0.stream == .contacts }
            #expect(calls.filter { $0.status == 410 }.count == 1)
            #expect(calls.filter { $0.endpoint == .start }.count == 2)
        }
    }

    @Test func aRefusedAccountTokenWritesNothing() async throws {
        let server = FakeAurinkoServer(accountToken: "right", pageSize: 2)
        for index in 1...3 { server.upsert(.email, id: "m\(index)") }
        let device = try DeltaDevice()
        try await server.run { root in
            let wrong = DeltaSync(source: source(root, .email(), token: "wrong"), sink: device.sink, clock: ImmediateClock())
            let error = try await #require(throws: DeltaSyncError.self) { try await wrong.run() }
            #expect(error.code == .unauthorized)
            #expect(try await device.rows("email").isEmpty)
            #expect(try await device.sink.tokens(stream: "email") == nil)
        }
    }

    @Test func aRefusalMidSyncLeavesTheRowsAndTokensAsTheyWere() async throws {
        let server = FakeAurinkoServer(pageSize: 2)
        for index in 1...3 { server.upsert(.email, id: "m\(index)") }
        let device = try DeltaDevice()
        try await server.run { root in
            let email = source(root, .email())
            let first = try await DeltaSync(source: email, sink: device.sink, clock: ImmediateClock()).run()
            let before = try await device.rows("email")

            server.upsert(.email, id: "m1", json: #"{"id":"m1","subject":"changed"}"#)
            server.upsert(.email, id: "m4")
            server.delete(.email, id: "m2")
            // The updated drain succeeds; the deleted drain is refused.
            server.injectFault(.status(401, message: "token revoked"), onCall: server.callCount + 2)
            let error = try await #require(throws: DeltaSyncError.self) {
                try await DeltaSync(source: email, sink: device.sink, clock: ImmediateClock()).run()
            }
            #expect(error.code == .unauthorized)
            #expect(error.message.contains("token revoked"))
            #expect(try await device.rows("email") == before)
            #expect(try await device.sink.tokens(stream: "email") == first.tokens)

            // The next run repeats the work from the same tokens.
            let again = try await DeltaSync(source: email, sink: device.sink, clock: ImmediateClock()).run()
            #expect(!again.fullResync)
            #expect(try await device.texts("email") == server.records(.email))
        }
    }
}
