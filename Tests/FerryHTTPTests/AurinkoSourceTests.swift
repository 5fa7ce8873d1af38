import AsyncHTTPClient
import FerryCore
import FerryHTTP
import FerryTestSupport
import Foundation
import Testing

/// `AurinkoSource` against the fake Aurinko server: the calls and tokens it sends, the pages
/// and records it reads, and how it classifies what goes wrong.
@Suite struct AurinkoSourceTests {
    // MARK: Streams

    @Test func anEmailSyncSendsDaysWithinAndDrainsEveryPage() async throws {
        let server = FakeAurinkoServer(pageSize: 2)
        for index in 1...5 { server.upsert(.email, id: "m\(index)") }
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .email(daysWithin: 30))
            #expect(source.stream == "email")
            let start = try await source.start()
            #expect(start.ready)
            let drained = try await drain(source, from: start.tokens)
            #expect(drained.records.map(\.id) == ["m1", "m2", "m3", "m4", "m5"])
            #expect(drained.updatedPages == 3)
            #expect(drained.deleted.isEmpty)

            let received = server.received
            #expect(received.first?.method == "POST")
            #expect(received.first?.path == "/v1/email/sync")
            #expect(received.first?.query == ["daysWithin": "30"])
            #expect(received.allSatisfy { $0.authorization == "Bearer account-token" })
            #expect(received.allSatisfy { $0.cacheControl == "no-cache" })
            #expect(received.allSatisfy { $0.status == 200 })
        }
    }

    @Test func theFirstCallOfADrainSendsTheDeltaTokenAndTheOthersThePreviousPageToken() async throws {
        let server = FakeAurinkoServer(pageSize: 2)
        for index in 1...5 { server.upsert(.email, id: "m\(index)") }
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .email())
            let start = try await source.start()
            var pages: [DeltaPage<DeltaRecord>] = []
            var position = DeltaPosition.delta(start.tokens.updated)
            while true {
                let page = try await source.updated(position)
                pages.append(page)
                guard case .page(let token) = page.next else { break }
                position = .page(token)
            }
            let calls = server.received.filter { $0.endpoint == .updated }
            #expect(calls.count == 3)
            #expect(calls.map(\.path) == Array(repeating: "/v1/email/sync/updated", count: 3))
            #expect(calls[0].deltaToken == start.tokens.updated)
            #expect(calls[0].pageToken == nil)
            for index in 1..<calls.count {
                guard case .page(let token) = pages[index - 1].next else {
                    Issue.record("page \(index) should continue the drain")
                    continue
                }
                #expect(calls[index].pageToken == token)
                #expect(calls[index].deltaToken == nil)
            }
            #expect(server.received.first?.query.isEmpty == true)  // no daysWithin when none is given
            guard case .done = pages.last?.next else {
                Issue.record("the last page should carry the next delta token")
                return
            }
        }
    }

    @Test func anIncrementalSyncReturnsOnlyWhatChangedSinceAndTheDeletions() async throws {
        let server = FakeAurinkoServer(pageSize: 2)
        for index in 1...4 { server.upsert(.email, id: "m\(index)") }
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .email(daysWithin: 7))
            let first = try await drain(source, from: try await source.start().tokens)
            #expect(first.records.count == 4)

            server.upsert(.email, id: "m2", json: #"{"id":"m2","subject":"edited"}"#)
            server.upsert(.email, id: "m9")
            server.delete(.email, id: "m3")
            server.delete(.email, id: "m4")
            server.delete(.email, id: "m1")
            let second = try await drain(source, from: first.tokens)
            #expect(second.records.map(\.id) == ["m2", "m9"])
            #expect(second.records.first?.data == #"{"id":"m2","subject":"edited"}"#)
            #expect(second.deleted == ["m3", "m4", "m1"])
            #expect(second.deletedPages == 2)

            let third = try await drain(source, from: second.tokens)
            #expect(third.records.isEmpty)
            #expect(third.deleted.isEmpty)
            // An incremental sync never starts again, and sends no filter.
            #expect(server.received.filter { $0.endpoint == .start }.count == 1)
        }
    }

    @Test func contactsSyncTheirDeletions() async throws {
        let server = FakeAurinkoServer(pageSize: 2)
        for index in 1...6 { server.upsert(.contacts, id: "c\(index)") }
        server.upsert(.email, id: "not-a-contact")
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .contacts)
            #expect(source.stream == "contacts")
            let first = try await drain(source, from: try await source.start().tokens)
            #expect(Set(first.records.map(\.id)) == ["c1", "c2", "c3", "c4", "c5", "c6"])

            for id in ["c2", "c4", "c5"] { server.delete(.contacts, id: id) }
            let second = try await drain(source, from: first.tokens)
            #expect(second.records.isEmpty)
            #expect(second.deleted == ["c2", "c4", "c5"])
            #expect(second.deletedPages == 2)
            let paths = Set(server.received.map(\.path))
            #expect(paths == ["/v1/contacts/sync", "/v1/contacts/sync/updated", "/v1/contacts/sync/deleted"])
        }
    }

    @Test func deletedIDsMayBePlainStrings() async throws {
        let server = FakeAurinkoServer(pageSize: 3)
        server.setDeletedAsStrings(true)
        for index in 1...4 { server.upsert(.contacts, id: "c\(index)") }
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .contacts)
            let first = try await drain(source, from: try await source.start().tokens)
            for index in 1...4 { server.delete(.contacts, id: "c\(index)") }
            let second = try await drain(source, from: first.tokens)
            #expect(second.deleted == ["c1", "c2", "c3", "c4"])
        }
    }

    @Test func aCalendarSyncForwardsTimeMinAndTimeMaxAndNamesThePrimaryCalendar() async throws {
        let server = FakeAurinkoServer(pageSize: 2)
        for index in 1...3 { server.upsert(.calendar("primary"), id: "e\(index)") }
        server.upsert(.calendar("other"), id: "elsewhere")
        try await server.run { root in
            let source = AurinkoSource(
                baseURL: root,
                accountToken: "account-token",
                stream: .calendar(
                    id: "primary",
                    timeMin: Date(timeIntervalSince1970: 1_704_067_200),
                    timeMax: Date(timeIntervalSince1970: 1_735_689_599.5)
                )
            )
            #expect(source.stream == "calendar:primary")
            let drained = try await drain(source, from: try await source.start().tokens)
            #expect(drained.records.map(\.id) == ["e1", "e2", "e3"])

            let start = try #require(server.received.first)
            #expect(start.path == "/v1/calendars/primary/sync")
            #expect(start.stream == .calendar("primary"))
            #expect(start.query == ["timeMin": "2024-01-01T00:00:00.000Z", "timeMax": "2024-12-31T23:59:59.500Z"])
            #expect(server.received.dropFirst().allSatisfy { $0.query["timeMin"] == nil && $0.query["timeMax"] == nil })
        }
    }

    @Test func aCalendarIDIsPercentEncodedIntoThePath() async throws {
        let id = "team/events@example.com #1"
        let server = FakeAurinkoServer(pageSize: 2)
        server.upsert(.calendar(id), id: "e1")
        server.upsert(.calendar("team"), id: "wrong")
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .calendar(id: id))
            #expect(source.stream == "calendar:\(id)")
            let drained = try await drain(source, from: try await source.start().tokens)
            #expect(drained.records.map(\.id) == ["e1"])
            #expect(server.received.first?.path == "/v1/calendars/team%2Fevents%40example.com%20%231/sync")
            #expect(server.received.allSatisfy { $0.stream == .calendar(id) })
        }
    }

    @Test func aBaseURLWithATrailingSlashKeepsItsVersion() async throws {
        let server = FakeAurinkoServer(pageSize: 2)
        server.upsert(.email, id: "m1")
        try await server.run { root in
            let source = AurinkoSource(baseURL: root + "/", accountToken: "account-token", stream: .email())
            let drained = try await drain(source, from: try await source.start().tokens)
            #expect(drained.records.map(\.id) == ["m1"])
            #expect(server.received.map(\.path) == ["/v1/email/sync", "/v1/email/sync/updated", "/v1/email/sync/deleted"])
        }
    }

    // MARK: Records

    @Test func aRecordsDataIsTheTextTheServerSent() async throws {
        let pretty = """
            {
              "subject" : "caf\\u00e9 \\"quoted\\"",  "id":  "m1",
              "etag": "W/\\"17\\"",
              "size": 1.50, "big": 12345678901234567890, "nested": {"b": [1, 2], "a": null}
            }
            """
        let numeric = #"{"etag":7,"id":42,"body":"plain"}"#
        let server = FakeAurinkoServer(pageSize: 5)
        server.upsert(.email, id: "m1", json: pretty)
        server.upsert(.email, id: "42", json: numeric)
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .email())
            let drained = try await drain(source, from: try await source.start().tokens)
            #expect(drained.records.count == 2)
            let first = try #require(drained.records.first)
            #expect(first.id == "m1")
            #expect(first.etag == #"W/"17""#)
            #expect(first.data == pretty)
            let second = try #require(drained.records.last)
            #expect(second.id == "42")
            #expect(second.etag == nil)  // not a string
            #expect(second.data == numeric)
        }
    }

    @Test(arguments: [
        (#"{"records":[{"id":"a"},{"subject":"no id"}],"nextDeltaToken":"t"}"#, "records[1].id is required"),
        (#"{"records":[{"id":1.5}],"nextDeltaToken":"t"}"#, "records[0].id must be a string or an integer"),
        (#"{"records":[{"id":""}],"nextDeltaToken":"t"}"#, "records[0].id must be a string or an integer"),
        (#"{"records":["a"],"nextDeltaToken":"t"}"#, "records[0] must be an object"),
        (#"{"records":[{"id":"a"}]}"#, "has neither nextPageToken nor nextDeltaToken"),
        (#"{"records":[{"id":"a"}],"nextPageToken":"#, "is not valid JSON"),
        ("<html>busy</html>", "is not valid JSON"),
    ])
    func anUpdatedPageItCannotReadIsABadResponse(body: String, problem: String) async throws {
        let server = FakeAurinkoServer()
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .email())
            server.failNextCall(with: .body(body))
            let error = await sourceError { try await source.updated(.delta("anything")) }
            #expect(error?.code == .badResponse)
            #expect(error?.status == 200)
            #expect(error?.message.contains(problem) == true, "\(error?.message ?? "no error")")
            #expect(error?.message.contains("/email/sync/updated") == true)
            #expect(error?.message.contains("anything") == false)  // never the token
        }
    }

    @Test(arguments: [
        (#"{"records":[{"name":"no id"}],"nextDeltaToken":"t"}"#, "records[0].id is required"),
        (#"{"records":[null],"nextDeltaToken":"t"}"#, "records[0] must be an id or an object with an id"),
        (#"{"records":[{"id":true}],"nextDeltaToken":"t"}"#, "records[0].id must be a string or an integer"),
    ])
    func aDeletedPageItCannotReadIsABadResponse(body: String, problem: String) async throws {
        let server = FakeAurinkoServer()
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .contacts)
            server.failNextCall(with: .body(body))
            let error = await sourceError { try await source.deleted(.page("anything")) }
            #expect(error?.code == .badResponse)
            #expect(error?.message.contains(problem) == true, "\(error?.message ?? "no error")")
        }
    }

    @Test func aPageWithBothTokensContinuesTheDrain() async throws {
        let server = FakeAurinkoServer()
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .contacts)
            server.failNextCall(with: .body(#"{"records":[7,{"id":8}],"nextPageToken":"p","nextDeltaToken":"d"}"#))
            let page = try await source.deleted(.delta("d0"))
            #expect(page == DeltaPage(items: ["7", "8"], next: .page("p")))
            server.failNextCall(with: .body(#"{"records":null,"nextPageToken":null,"nextDeltaToken":"d"}"#))
            let last = try await source.deleted(.page("p"))
            #expect(last == DeltaPage(items: [], next: .done(nextDeltaToken: "d")))
        }
    }

    // MARK: Starting

    @Test func readyFalseIsAnAnswerNotAnError() async throws {
        let server = FakeAurinkoServer()
        server.answerNotReady(starts: 2)
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .email(daysWithin: 3))
            let first = try await source.start()
            #expect(first == DeltaStart(tokens: DeltaTokens(updated: "", deleted: ""), ready: false))
            #expect(try await source.start().ready == false)
            let third = try await source.start()
            #expect(third.ready)
            #expect(!third.tokens.updated.isEmpty)
            #expect(!third.tokens.deleted.isEmpty)
            #expect(third.tokens.updated != third.tokens.deleted)
            #expect(server.received.map(\.query) == Array(repeating: ["daysWithin": "3"], count: 3))
        }
    }

    @Test(arguments: [
        #"{"syncDeletedToken":"d","ready":true}"#,
        #"{"syncUpdatedToken":"u","syncDeletedToken":"","ready":true}"#,
        #"{"syncUpdatedToken":"u","syncDeletedToken":"d","ready":"yes"}"#,
    ])
    func aStartAnswerItCannotUseIsABadResponse(body: String) async throws {
        let server = FakeAurinkoServer()
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .contacts)
            server.failNextCall(with: .body(body))
            let error = await sourceError { try await source.start() }
            #expect(error?.code == .badResponse)
            #expect(error?.message.contains("POST /contacts/sync") == true)
        }
    }

    @Test func aStartAnswerWithoutReadyIsReady() async throws {
        let server = FakeAurinkoServer()
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .contacts)
            server.failNextCall(with: .body(#"{"syncUpdatedToken":"u","syncDeletedToken":"d","extra":[1]}"#))
            let start = try await source.start()
            #expect(start == DeltaStart(tokens: DeltaTokens(updated: "u", deleted: "d"), ready: true))
        }
    }

    // MARK: Faults

    @Test(arguments: [
        (401, DeltaSourceError.Code.unauthorized),
        (403, .unauthorized),
        (410, .tokenInvalid),
        (429, .rateLimited),
        (503, .rateLimited),
        (500, .unavailable),
        (502, .unavailable),
        (504, .unavailable),
        (400, .badResponse),
        (404, .badResponse),
        (409, .badResponse),
        (302, .badResponse),
    ])
    func eachStatusIsClassified(status: Int, code: DeltaSourceError.Code) async throws {
        let server = FakeAurinkoServer()
        server.upsert(.email, id: "m1")
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .email())
            let start = try await source.start()
            server.failNextCall(with: .status(status, message: "scripted \(status)"))
            let error = await sourceError { try await source.updated(.delta(start.tokens.updated)) }
            #expect(error?.code == code)
            #expect(error?.status == status)
            #expect(error?.retryAfter == nil)
            #expect(error?.message == "email: GET /email/sync/updated answered HTTP \(status): scripted \(status)")
        }
    }

    @Test(arguments: [
        ("7", Duration?.some(.seconds(7))),
        (" 120 ", .seconds(120)),
        ("Tue, 15 Nov 1994 08:12:31 GMT", .seconds(90)),
        ("Tuesday, 15-Nov-94 08:12:31 GMT", .seconds(90)),
        ("Tue Nov 15 08:12:31 1994", .seconds(90)),
        ("Tue, 15 Nov 1994 08:10:00 GMT", .zero),
        ("soon", nil),
        ("-5", nil),
    ])
    func rateLimitingCarriesRetryAfterInSecondsOrAsADate(header: String, delay: Duration?) async throws {
        // 90 seconds before Tue, 15 Nov 1994 08:12:31 GMT.
        let now = WallClock { 784_887_061_000 }
        let server = FakeAurinkoServer()
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .email(), wallClock: now)
            for status in [429, 503] {
                server.failNextCall(with: .status(status, retryAfter: header))
                let error = await sourceError { try await source.start() }
                #expect(error?.code == .rateLimited)
                #expect(error?.retryAfter == delay)
                #expect(error?.message == "email: POST /email/sync answered HTTP \(status)")
            }
        }
    }

    @Test func aFaultOnTheNthCallInterruptsADrainThatResumesFromThePageToken() async throws {
        let server = FakeAurinkoServer(pageSize: 2)
        for index in 1...5 { server.upsert(.email, id: "m\(index)") }
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .email())
            let start = try await source.start()
            let first = try await source.updated(.delta(start.tokens.updated))
            let token = try #require(first.pageToken, "the first page should continue")
            server.injectFault(.status(429, retryAfter: "3"), onCall: 3)
            let error = await sourceError { try await source.updated(.page(token)) }
            #expect(error?.code == .rateLimited)
            #expect(error?.retryAfter == .seconds(3))
            // The same page token still works once the wait is over.
            let second = try await source.updated(.page(token))
            #expect(second.items.map(\.id) == ["m3", "m4"])
            #expect(server.received.map(\.status) == [200, 200, 429, 200])
        }
    }

    @Test func aWrongAccountTokenIsUnauthorized() async throws {
        let server = FakeAurinkoServer(accountToken: "right")
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "wrong", stream: .contacts)
            let error = await sourceError { try await source.start() }
            #expect(error?.code == .unauthorized)
            #expect(error?.status == 401)
            #expect(error?.message.contains("the account token is missing or not valid") == true)
            #expect(server.received.first?.authorization == "Bearer wrong")
        }
    }

    @Test func tokensMadeStaleByAResetAreTokenInvalid() async throws {
        let server = FakeAurinkoServer(pageSize: 2)
        for index in 1...5 { server.upsert(.contacts, id: "c\(index)") }
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .contacts)
            let done = try await drain(source, from: try await source.start().tokens)
            let start = try await source.start()
            let first = try await source.updated(.delta(start.tokens.updated))
            server.resetTokens(.contacts)

            for position in [DeltaPosition.delta(done.tokens.updated), .delta(start.tokens.updated)] {
                let error = await sourceError { try await source.updated(position) }
                #expect(error?.code == .tokenInvalid)
                #expect(error?.status == 410)
            }
            let deleted = await sourceError { try await source.deleted(.delta(done.tokens.deleted)) }
            #expect(deleted?.code == .tokenInvalid)
            let token = try #require(first.pageToken, "the first page should continue")
            let page = await sourceError { try await source.updated(.page(token)) }
            #expect(page?.code == .tokenInvalid)

            // A new full sync works again.
            let again = try await drain(source, from: try await source.start().tokens)
            #expect(again.records.count == 5)
        }
    }

    @Test func anExpiredTokenIsTokenInvalid() async throws {
        let server = FakeAurinkoServer()
        server.upsert(.email, id: "m1")
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .email())
            let done = try await drain(source, from: try await source.start().tokens)
            server.expireToken(done.tokens.deleted)
            _ = try await source.updated(.delta(done.tokens.updated))
            let error = await sourceError { try await source.deleted(.delta(done.tokens.deleted)) }
            #expect(error?.code == .tokenInvalid)
        }
    }

    @Test func theFakeRejectsAPageTokenSentAsADeltaTokenAndTheReverse() async throws {
        // The original library sent every page token as `deltaToken`: the fake answers 400 to it.
        let server = FakeAurinkoServer(pageSize: 1)
        for index in 1...3 { server.upsert(.email, id: "m\(index)") }
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .email())
            let start = try await source.start()
            let first = try await source.updated(.delta(start.tokens.updated))
            let token = try #require(first.pageToken, "the first page should continue")
            let asDelta = await sourceError { try await source.updated(.delta(token)) }
            #expect(asDelta?.code == .badResponse)
            #expect(asDelta?.status == 400)
            #expect(asDelta?.message.contains("a pageToken was sent as deltaToken") == true)
            let asPage = await sourceError { try await source.updated(.page(start.tokens.updated)) }
            #expect(asPage?.code == .badResponse)
            #expect(asPage?.message.contains("a deltaToken was sent as pageToken") == true)
            let otherDrain = await sourceError { try await source.deleted(.delta(start.tokens.updated)) }
            #expect(otherDrain?.code == .badResponse)
        }
    }

    @Test func anUnreachableServerIsUnavailable() async throws {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let source = AurinkoSource(baseURL: "http://127.0.0.1:1/v1", accountToken: "t", stream: .contacts, httpClient: client)
        let error = await sourceError { try await source.start() }
        try await client.shutdown()
        #expect(error?.code == .unavailable)
        #expect(error?.status == nil)
        #expect(error?.cause != nil)
        #expect(error?.message.hasPrefix("contacts: POST /contacts/sync failed") == true)
    }

    @Test func aRequestThatTimesOutIsUnavailable() async throws {
        let server = FakeAurinkoServer()
        try await server.run { root in
            let source = AurinkoSource(
                baseURL: root,
                accountToken: "account-token",
                stream: .email(),
                requestTimeout: .milliseconds(200)
            )
            server.failNextCall(with: .hang)
            let error = await sourceError { try await source.start() }
            #expect(error?.code == .unavailable)
            #expect(error?.cause != nil)
            server.releaseHungCalls()
        }
    }

    @Test func anAnswerLongerThanTheLimitIsABadResponse() async throws {
        let server = FakeAurinkoServer(pageSize: 10)
        for index in 1...10 {
            server.upsert(.email, id: "m\(index)", json: "{\"id\":\"m\(index)\",\"pad\":\"\(String(repeating: "x", count: 100))\"}")
        }
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .email(), maxResponseBytes: 512)
            let start = try await source.start()
            let error = await sourceError { try await source.updated(.delta(start.tokens.updated)) }
            #expect(error?.code == .badResponse)
            #expect(error?.message.contains("longer than 512 bytes") == true)
        }
    }

    @Test(arguments: [
        (#"{"code":"x","message":"top message"}"#, ": top message"),
        (#"{"error":{"code":"x","message":"nested message"}}"#, ": nested message"),
        (#"{"error":"plain error"}"#, ": plain error"),
        (#"{"error_description":"described"}"#, ": described"),
        (#"{"code":"x"}"#, ""),
        ("", ""),
        ("Bad Request", ": Bad Request"),
    ])
    func anErrorBodysMessageIsQuoted(body: String, quoted: String) async throws {
        let server = FakeAurinkoServer()
        try await server.run { root in
            let source = AurinkoSource(baseURL: root, accountToken: "account-token", stream: .contacts)
            server.failNextCall(with: .body(body, status: 400))
            let error = await sourceError { try await source.start() }
            #expect(error?.code == .badResponse)
            #expect(error?.message == "contacts: POST /contacts/sync answered HTTP 400\(quoted)")
        }
    }
}

// MARK: Helpers

/// What draining both halves of a stream gave.
struct Drained {
    var records: [DeltaRecord] = []
    var deleted: [String] = []
    var updatedPages = 0
    var deletedPages = 0
    var tokens = DeltaTokens(updated: "", deleted: "")
}

/// Drains every page of updated records, then of deleted ids, from `tokens`, as the
/// orchestrator does: the first call of each drain with the delta token, the others with the
/// previous page's page token.
func drain(_ source: AurinkoSource, from tokens: DeltaTokens) async throws -> Drained {
    var drained = Drained()
    var position = DeltaPosition.delta(tokens.updated)
    while true {
        let page = try await source.updated(position)
        drained.records += page.items
        drained.updatedPages += 1
        switch page.next {
        case .page(let token): position = .page(token)
        case .done(let token): drained.tokens.updated = token
        }
        if case .done = page.next { break }
    }
    position = .delta(tokens.deleted)
    while true {
        let page = try await source.deleted(position)
        drained.deleted += page.items
        drained.deletedPages += 1
        switch page.next {
        case .page(let token): position = .page(token)
        case .done(let token): drained.tokens.deleted = token
        }
        if case .done = page.next { break }
    }
    return drained
}
