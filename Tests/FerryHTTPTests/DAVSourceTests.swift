import AsyncHTTPClient
import FerryCore
import FerryHTTP
import Foundation
import Synchronization
import Testing

/// Multistatus bodies for the stub DAV server, written with the prefixes real servers use
/// differently: `d:` for DAV, `cal:`/`card:` for the data.
enum DAVBody {
    static func multistatus(token: String?, _ responses: [String], kind: String = "caldav") -> String {
        let tokenElement = token.map { "<d:sync-token>\($0)</d:sync-token>" } ?? ""
        return """
            <?xml version="1.0" encoding="utf-8"?>
            <d:multistatus xmlns:d="DAV:" xmlns:x="urn:ietf:params:xml:ns:\(kind)">\(responses.joined())\(tokenElement)</d:multistatus>
            """
    }

    static func found(_ href: String, etag: String = "\"e\"", data: String?, element: String = "calendar-data") -> String {
        let dataElement = data.map { "<x:\(element)>\($0)</x:\(element)>" } ?? ""
        return """
            <d:response><d:href>\(href)</d:href><d:propstat><d:prop><d:getetag>\(etag)</d:getetag>\(dataElement)</d:prop>\
            <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
            """
    }

    static func gone(_ href: String) -> String {
        "<d:response><d:href>\(href)</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>"
    }

    static let truncated =
        "<d:response><d:href>/cal/</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status></d:response>"

    static func event(_ name: String) -> String { "BEGIN:VCALENDAR\nUID:\(name)\nEND:VCALENDAR\n" }
    static func stored(_ name: String) -> String { "BEGIN:VCALENDAR\r\nUID:\(name)\r\nEND:VCALENDAR\r\n" }
}

/// Drains every page of the updated records from `position`: the pages' ids and the token it ends with.
func drainUpdated(_ source: some DeltaSource, from token: String) async throws -> (pages: [[DeltaRecord]], next: String) {
    var pages: [[DeltaRecord]] = []
    var position = DeltaPosition.delta(token)
    while true {
        let page = try await source.updated(position)
        pages.append(page.items)
        switch page.next {
        case .page(let next): position = .page(next)
        case .done(let next): return (pages, next)
        }
    }
}

/// Drains every page of the deleted ids from `position`.
func drainDeleted(_ source: some DeltaSource, from token: String) async throws -> (pages: [[String]], next: String) {
    var pages: [[String]] = []
    var position = DeltaPosition.delta(token)
    while true {
        let page = try await source.deleted(position)
        pages.append(page.items)
        switch page.next {
        case .page(let next): position = .page(next)
        case .done(let next): return (pages, next)
        }
    }
}

/// `CalDAVSource` and `CardDAVSource` against a scripted server: the requests they send, how
/// they page, follow truncation and fetch missing data, and how they classify failures.
@Suite struct DAVSourceTests {
    @Test func anInitialSyncSendsAnEmptyTokenWithTheRequiredHeaders() async throws {
        let server = StubDAVServer { _ in
            .multistatus(DAVBody.multistatus(token: "t1", [DAVBody.found("/cal/a.ics", etag: "\"7\"", data: DAVBody.event("a"))]))
        }
        try await server.run { base in
            let source = CalDAVSource(collectionURL: "\(base)/cal/", username: "alice", password: "s3cret")
            #expect(source.stream == "\(base)/cal/")
            let start = try await source.start()
            #expect(start == DeltaStart(tokens: DeltaTokens(single: ""), ready: true))
            #expect(server.received.isEmpty, "start sends nothing")

            let page = try await source.updated(.delta(""))
            #expect(
                page
                    == DeltaPage(
                        items: [DeltaRecord(id: "/cal/a.ics", etag: "\"7\"", data: DAVBody.stored("a"))],
                        next: .done(nextDeltaToken: "t1")
                    )
            )
            let request = try #require(server.received.first)
            #expect(request.method == "REPORT")
            #expect(request.path == "/cal/")
            #expect(request.header("Depth") == "0")
            #expect(request.header("Cache-Control") == "no-cache")
            #expect(request.header("Authorization") == "Basic " + Data("alice:s3cret".utf8).base64EncodedString())
            #expect(request.syncToken == "")
            #expect(request.body.contains("<D:sync-level>1</D:sync-level>"))
            #expect(request.body.contains("calendar-data"))
            #expect(!request.body.contains("limit"), "DAV:limit is never sent")
        }
    }

    @Test func tokensAreSentEscaped() async throws {
        let server = StubDAVServer { _ in .multistatus(DAVBody.multistatus(token: "t2", [])) }
        try await server.run { base in
            let source = CalDAVSource(collectionURL: "\(base)/cal/")
            _ = try await source.updated(.delta("a<b&c"))
            #expect(server.received.first?.syncToken == "a&lt;b&amp;c")
            #expect(server.received.first?.header("Authorization") == nil, "no username, no credentials")
        }
    }

    @Test func aLargeAnswerIsHandedOutInPagesFromOneReport() async throws {
        let server = StubDAVServer { _ in
            .multistatus(
                DAVBody.multistatus(
                    token: "t1",
                    (1...5).map { DAVBody.found("/cal/\($0).ics", data: DAVBody.event("\($0)")) }
                        + (1...3).map { DAVBody.gone("/cal/x\($0).ics") }
                )
            )
        }
        try await server.run { base in
            let source = CalDAVSource(collectionURL: "\(base)/cal/", configuration: .init(pageSize: 2))
            let updated = try await drainUpdated(source, from: "t0")
            #expect(updated.pages.map { $0.map(\.id) } == [["/cal/1.ics", "/cal/2.ics"], ["/cal/3.ics", "/cal/4.ics"], ["/cal/5.ics"]])
            #expect(updated.next == "t1")
            let deleted = try await drainDeleted(source, from: "t0")
            #expect(deleted.pages == [["/cal/x1.ics", "/cal/x2.ics"], ["/cal/x3.ics"]])
            #expect(deleted.next == "t1")
            #expect(server.received.count == 1, "one report serves both drains")
        }
    }

    @Test func aTruncatedAnswerIsFollowedFromItsNewToken() async throws {
        let server = StubDAVServer { request in
            switch request.syncToken {
            case "t0":
                // The first round: a and b changed, x deleted, and more to come.
                return .multistatus(
                    DAVBody.multistatus(
                        token: "t1",
                        [
                            DAVBody.found("/cal/a.ics", data: DAVBody.event("a")), DAVBody.found("/cal/b.ics", data: DAVBody.event("b")),
                            DAVBody.gone("/cal/x.ics"), DAVBody.truncated,
                        ]
                    )
                )
            default:
                // The second round: x created again, b deleted.
                return .multistatus(
                    DAVBody.multistatus(token: "t2", [DAVBody.found("/cal/x.ics", data: DAVBody.event("x")), DAVBody.gone("/cal/b.ics")])
                )
            }
        }
        try await server.run { base in
            let source = CalDAVSource(collectionURL: "\(base)/cal/")
            let updated = try await drainUpdated(source, from: "t0")
            #expect(updated.pages.map { $0.map(\.id) } == [["/cal/a.ics", "/cal/b.ics"], ["/cal/x.ics"]])
            #expect(updated.next == "t2")
            let deleted = try await drainDeleted(source, from: "t0")
            #expect(deleted.pages == [["/cal/b.ics"]], "x came back in a later round; b left in one")
            #expect(deleted.next == "t2")
            #expect(server.received.map(\.syncToken) == ["t0", "t1"])
        }
    }

    @Test func aTruncatedAnswerThatDoesNotMoveOnIsRefused() async throws {
        let server = StubDAVServer { _ in .multistatus(DAVBody.multistatus(token: "t0", [DAVBody.truncated])) }
        try await server.run { base in
            let error = await sourceError { try await CalDAVSource(collectionURL: "\(base)/cal/").updated(.delta("t0")) }
            #expect(error?.code == .badResponse)
        }
    }

    @Test func membersWithoutDataAreFetchedByMultiget() async throws {
        let server = StubDAVServer { request in
            if request.isMultiget {
                // The server writes hrefs back as absolute URLs, and c is gone by now.
                var responses: [String] = []
                if request.body.contains("/cal/b.ics") {
                    responses.append(DAVBody.found("http://127.0.0.1/cal/b.ics", etag: "\"b2\"", data: DAVBody.event("b")))
                }
                if request.body.contains("/cal/c.ics") { responses.append(DAVBody.gone("/cal/c.ics")) }
                return .multistatus(DAVBody.multistatus(token: nil, responses))
            }
            return .multistatus(
                DAVBody.multistatus(
                    token: "t1",
                    [
                        DAVBody.found("/cal/a.ics", data: DAVBody.event("a")), DAVBody.found("/cal/b.ics", etag: "\"b1\"", data: nil),
                        DAVBody.found("/cal/c.ics", data: nil),
                    ]
                )
            )
        }
        try await server.run { base in
            let source = CalDAVSource(collectionURL: "\(base)/cal/", configuration: .init(multigetBatchSize: 1))
            let page = try await source.updated(.delta("t0"))
            #expect(
                page.items == [
                    DeltaRecord(id: "/cal/a.ics", etag: "\"e\"", data: DAVBody.stored("a")),
                    DeltaRecord(id: "/cal/b.ics", etag: "\"b2\"", data: DAVBody.stored("b")),
                ]
            )
            #expect(page.next == .done(nextDeltaToken: "t1"))
            let deleted = try await drainDeleted(source, from: "t0")
            #expect(deleted.pages == [["/cal/c.ics"]], "a member gone before its multiget is a deletion")
            let multigets = server.received.filter(\.isMultiget)
            #expect(multigets.count == 2, "batches of one")
            #expect(multigets.allSatisfy { $0.body.contains("calendar-multiget") && $0.header("Depth") == "0" })
            #expect(multigets.allSatisfy { $0.header("Cache-Control") == "no-cache" })
            #expect(multigets.map { $0.body.contains("<D:href>/cal/b.ics</D:href>") } == [true, false])
        }
    }

    @Test func aMultigetThatLeavesAMemberOutIsRefused() async throws {
        let server = StubDAVServer { request in
            request.isMultiget
                ? .multistatus(DAVBody.multistatus(token: nil, []))
                : .multistatus(DAVBody.multistatus(token: "t1", [DAVBody.found("/cal/a.ics", data: nil)]))
        }
        try await server.run { base in
            let error = await sourceError { try await CalDAVSource(collectionURL: "\(base)/cal/").updated(.delta("t0")) }
            #expect(error?.code == .badResponse)
        }
    }

    @Test func deletedWithoutAnUpdatedDrainRunsItsOwnReport() async throws {
        let server = StubDAVServer { request in
            request.syncToken == "t0"
                ? .multistatus(
                    DAVBody.multistatus(
                        token: "t1",
                        [DAVBody.found("/cal/a.ics", data: nil), DAVBody.gone("/cal/x.ics"), DAVBody.truncated]
                    )
                )
                : .multistatus(DAVBody.multistatus(token: "t2", [DAVBody.gone("/cal/y.ics")]))
        }
        try await server.run { base in
            let source = CalDAVSource(collectionURL: "\(base)/cal/", configuration: .init(pageSize: 1))
            let deleted = try await drainDeleted(source, from: "t0")
            #expect(deleted.pages == [["/cal/x.ics"], ["/cal/y.ics"]])
            #expect(deleted.next == "t2")
            #expect(server.received.map(\.syncToken) == ["t0", "t1"])
            #expect(server.received.allSatisfy { !$0.body.contains("calendar-data") }, "deletions need no data")
            #expect(server.received.allSatisfy { !$0.isMultiget })
        }
    }

    @Test func aPageTokenWhoseDrainIsGoneRunsItsRoundAgain() async throws {
        let server = StubDAVServer { _ in
            .multistatus(DAVBody.multistatus(token: "t1", (1...3).map { DAVBody.found("/cal/\($0).ics", data: DAVBody.event("\($0)")) }))
        }
        try await server.run { base in
            let first = CalDAVSource(collectionURL: "\(base)/cal/", configuration: .init(pageSize: 2))
            let page = try await first.updated(.delta("t0"))
            guard case .page(let token) = page.next else {
                Issue.record("expected a page token, got \(page.next)")
                return
            }
            // Another instance (a restarted process) holds no drain: it asks for the round again.
            let second = CalDAVSource(collectionURL: "\(base)/cal/", configuration: .init(pageSize: 2))
            let again = try await second.updated(.page(token))
            #expect(again.items.map(\.id) == ["/cal/1.ics", "/cal/2.ics"])
            #expect(server.received.map(\.syncToken) == ["t0", "t0"])
            guard case .page(let next) = again.next else {
                Issue.record("expected a page token, got \(again.next)")
                return
            }
            let last = try await second.updated(.page(next))
            #expect(
                last
                    == DeltaPage(
                        items: [DeltaRecord(id: "/cal/3.ics", etag: "\"e\"", data: DAVBody.stored("3"))],
                        next: .done(nextDeltaToken: "t1")
                    )
            )
            #expect(server.received.count == 2)
            // The rebuilt drain has no delta token: the deleted drain runs its own report.
            _ = try await drainDeleted(second, from: "t0")
            #expect(server.received.count == 3)
        }
    }

    @Test func aPageTokenNotOfThisSourceIsABadResponse() async throws {
        let source = CalDAVSource(collectionURL: "http://127.0.0.1:1/cal/")
        #expect(await sourceError { try await source.updated(.page("nonsense")) }?.code == .badResponse)
        #expect(await sourceError { try await source.deleted(.page("u D 0 t")) }?.code == .badResponse)
    }

    @Test(arguments: [403, 409])
    func aTokenTheServerNoLongerKnowsIsInvalid(status: Int) async throws {
        let server = StubDAVServer { _ in
            StubDAVServer.Answer(
                status: status,
                headers: ["Content-Type": "application/xml"],
                body: #"<?xml version="1.0"?><q:error xmlns:q="DAV:"><q:valid-sync-token/></q:error>"#
            )
        }
        try await server.run { base in
            let error = await sourceError { try await CalDAVSource(collectionURL: "\(base)/cal/").updated(.delta("old")) }
            #expect(error?.code == .tokenInvalid)
            #expect(error?.status == status)
        }
    }

    /// A refusal the stub answers, and the code and delay the source makes of it.
    struct Refusal: Sendable, CustomTestStringConvertible {
        var answer: StubDAVServer.Answer
        var code: DeltaSourceError.Code
        var retryAfter: Duration?
        var testDescription: String { "\(answer.status) → \(code)" }
    }

    static let refusals: [Refusal] = [
        Refusal(answer: .init(status: 401, headers: ["WWW-Authenticate": "Basic realm=\"x\""], body: "no"), code: .unauthorized),
        Refusal(answer: .init(status: 403, body: #"<error xmlns="DAV:"><need-privileges/></error>"#), code: .unauthorized),
        Refusal(answer: .init(status: 409, body: "conflict"), code: .badResponse),
        Refusal(answer: .init(status: 429, headers: ["Retry-After": "7"], body: ""), code: .rateLimited, retryAfter: .seconds(7)),
        Refusal(answer: .init(status: 503, headers: ["Retry-After": "3"], body: "busy"), code: .rateLimited, retryAfter: .seconds(3)),
        Refusal(answer: .init(status: 503, headers: ["Retry-After": "later"], body: "busy"), code: .rateLimited),
        Refusal(answer: .init(status: 429, body: ""), code: .rateLimited),
        Refusal(answer: .init(status: 500, body: "oops"), code: .unavailable),
        Refusal(answer: .init(status: 502, body: ""), code: .unavailable),
        Refusal(answer: .init(status: 404, body: "no such collection"), code: .badResponse),
        Refusal(answer: .init(status: 207, body: "<html>a captive portal</html"), code: .badResponse),
        Refusal(answer: .init(status: 207, body: #"<multistatus xmlns="DAV:"></multistatus>"#), code: .badResponse),
    ]

    @Test(arguments: refusals)
    func refusalsAreClassified(_ refusal: Refusal) async throws {
        let server = StubDAVServer { _ in refusal.answer }
        try await server.run { base in
            let error = await sourceError { try await CalDAVSource(collectionURL: "\(base)/cal/").updated(.delta("t")) }
            #expect(error?.code == refusal.code)
            #expect(error?.retryAfter == refusal.retryAfter)
            #expect(error?.status == refusal.answer.status)
        }
    }

    @Test func aRetryAfterDateCountsFromTheAnswersDate() async throws {
        // The server stamps its own `Date`; the stub asks for two minutes after it.
        let server = StubDAVServer { _ in
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            return .init(status: 429, headers: ["Retry-After": formatter.string(from: Date().addingTimeInterval(120))], body: "")
        }
        try await server.run { base in
            let error = await sourceError { try await CalDAVSource(collectionURL: "\(base)/cal/").updated(.delta("t")) }
            #expect(error?.code == .rateLimited)
            let delay = try #require(error?.retryAfter)
            // Both headers are to the second, and Hummingbird stamps `Date` from a cache it
            // refreshes once a second, which lags on a loaded machine: a few seconds either way.
            #expect(delay >= .seconds(115) && delay <= .seconds(125))
        }
    }

    @Test func aRefusedConnectionIsUnavailable() async throws {
        // Without AsyncHTTPClient's own retries, the refusal surfaces at once.
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let source = CardDAVSource(collectionURL: "http://127.0.0.1:1/ab/", httpClient: client)
        let error = await sourceError { try await source.updated(.delta("")) }
        #expect(error?.code == .unavailable)
        #expect(error?.cause != nil)
        try await client.shutdown()
    }

    @Test func addressBooksUseAddressDataAndAddressbookMultiget() async throws {
        let card = "BEGIN:VCARD\nFN:Zoë\nEND:VCARD\n"
        let server = StubDAVServer { request in
            if request.isMultiget {
                return .multistatus(
                    DAVBody.multistatus(token: nil, [DAVBody.found("/ab/b.vcf", data: card, element: "address-data")], kind: "carddav")
                )
            }
            return .multistatus(
                DAVBody.multistatus(
                    token: "t1",
                    [DAVBody.found("/ab/a.vcf", data: card, element: "address-data"), DAVBody.found("/ab/b.vcf", data: nil)],
                    kind: "carddav"
                )
            )
        }
        try await server.run { base in
            let source = CardDAVSource(collectionURL: "\(base)/ab/")
            let page = try await source.updated(.delta(""))
            #expect(page.items.map(\.id) == ["/ab/a.vcf", "/ab/b.vcf"])
            #expect(page.items.allSatisfy { $0.data == "BEGIN:VCARD\r\nFN:Zoë\r\nEND:VCARD\r\n" })
            let requests = server.received
            #expect(requests.count == 2)
            #expect(requests.first?.body.contains("urn:ietf:params:xml:ns:carddav") == true)
            #expect(requests.first?.body.contains(":address-data/>") == true)
            #expect(requests.last?.body.contains(":addressbook-multiget ") == true)
        }
    }
}
