import FerryCore
import Foundation
import NIOHTTP1
import Testing

@testable import FerryHTTP

/// How a DAV source reads multistatus answers, error bodies and `Retry-After`.
@Suite struct DAVMultistatusTests {
    private func parse(_ text: String, kind: DAVKind = .calendar) throws -> DAVMultistatus {
        try DAVMultistatus(parsing: Data(text.utf8), kind: kind, collection: "http://127.0.0.1:1/cal/")
    }

    @Test func elementsAreMatchedOnNamespaceWhateverThePrefix() throws {
        let text = """
            <?xml version="1.0" encoding="utf-8"?>
            <x:multistatus xmlns:x="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav">
              <x:response>
                <x:href>
                  /cal/a.ics
                </x:href>
                <x:propstat>
                  <x:prop><x:getetag> "1" </x:getetag><cal:calendar-data>BEGIN:VCALENDAR\r\nSUMMARY:a &amp; b\r\nEND:VCALENDAR\r\n</cal:calendar-data></x:prop>
                  <x:status>HTTP/1.1 200 OK</x:status>
                </x:propstat>
              </x:response>
              <response xmlns="DAV:">
                <href>/cal/b.ics</href>
                <propstat>
                  <prop><getetag>"2"</getetag><calendar-data xmlns="urn:ietf:params:xml:ns:caldav"><![CDATA[BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n]]></calendar-data></prop>
                  <status>HTTP/1.1 200 OK</status>
                </propstat>
              </response>
              <x:response><x:href>/cal/c.ics</x:href><x:status>HTTP/1.1 404 Not Found</x:status></x:response>
              <x:sync-token>http://example.com/sync/2</x:sync-token>
            </x:multistatus>
            """
        let answer = try parse(text)
        #expect(answer.syncToken == "http://example.com/sync/2")
        #expect(
            answer.found == [
                .init(href: "/cal/a.ics", etag: "\"1\"", data: "BEGIN:VCALENDAR\r\nSUMMARY:a & b\r\nEND:VCALENDAR\r\n"),
                .init(href: "/cal/b.ics", etag: "\"2\"", data: "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"),
            ]
        )
        #expect(answer.gone == ["/cal/c.ics"])
        #expect(!answer.truncated)
    }

    @Test func dataInAnotherNamespaceOrInAFailedPropstatIsLeftOut() throws {
        let text = """
            <D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
              <D:response><D:href>/cal/a.ics</D:href>
                <D:propstat><D:prop><D:getetag>"1"</D:getetag><D:calendar-data>not this</D:calendar-data></D:prop>
                  <D:status>HTTP/1.1 200 OK</D:status></D:propstat>
                <D:propstat><D:prop><C:calendar-data>nor this</C:calendar-data></D:prop>
                  <D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>
              </D:response>
              <D:response><D:href>/cal/b.ics</D:href><D:status>HTTP/1.1 200 OK</D:status></D:response>
              <D:response><D:href>/cal/c.ics</D:href>
                <D:propstat><D:prop><D:getetag>"3"</D:getetag></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>
              </D:response>
              <D:sync-token>t</D:sync-token>
            </D:multistatus>
            """
        let answer = try parse(text)
        #expect(
            answer.found == [
                .init(href: "/cal/a.ics", etag: "\"1\"", data: nil),
                .init(href: "/cal/b.ics", etag: nil, data: nil),
                .init(href: "/cal/c.ics", etag: "\"3\"", data: nil),
            ]
        )
    }

    @Test func a507ForTheCollectionMarksTheAnswerTruncated() throws {
        let text = """
            <multistatus xmlns="DAV:">
              <response><href>/cal/a.ics</href><status>HTTP/1.1 404 Not Found</status></response>
              <response><href>http://127.0.0.1:1/cal/</href><status>HTTP/1.1 507 Insufficient Storage</status>
                <error><number-of-matches-within-limits/></error></response>
              <response><href>/cal/</href><status>HTTP/1.1 200 OK</status></response>
              <response><href>/cal/d.ics</href><status>HTTP/1.1 403 Forbidden</status></response>
              <sync-token>t2</sync-token>
            </multistatus>
            """
        let answer = try parse(text)
        #expect(answer.truncated)
        #expect(answer.gone == ["/cal/a.ics"])
        #expect(answer.found.isEmpty, "the collection's own response is not a member")
        #expect(answer.skipped == [.init(href: "/cal/d.ics", status: 403)])
        #expect(answer.syncToken == "t2")
    }

    @Test func addressDataIsReadForAddressBooks() throws {
        let text = """
            <d:multistatus xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:response><d:href>/ab/a.vcf</d:href>
            <d:propstat><d:prop><card:address-data>BEGIN:VCARD\nFN:Ünal\nEND:VCARD\n</card:address-data></d:prop>
            <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response><d:sync-token>t</d:sync-token></d:multistatus>
            """
        let answer = try parse(text, kind: .addressBook)
        #expect(answer.found.map(\.data) == ["BEGIN:VCARD\r\nFN:Ünal\r\nEND:VCARD\r\n"])
        let asCalendar = try parse(text, kind: .calendar)
        #expect(asCalendar.found.map(\.data) == [nil])
    }

    @Test func aCarriageReturnEscapedByTheServerIsKept() throws {
        let text = """
            <D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:response><D:href>/cal/a.ics</D:href>
            <D:propstat><D:prop><C:calendar-data>A&#13;\nB&#13;\n</C:calendar-data></D:prop>
            <D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response><D:sync-token>t</D:sync-token></D:multistatus>
            """
        #expect(try parse(text).found.map(\.data) == ["A\r\nB\r\n"])
    }

    @Test func lineFeedsWithoutCarriageReturnsGetThem() {
        #expect("a\nb\r\nc\n\nd".restoringCRLF == "a\r\nb\r\nc\r\n\r\nd")
        #expect("Café ☕\n東京".restoringCRLF == "Café ☕\r\n東京")
        #expect("".restoringCRLF == "")
    }

    @Test(arguments: ["<html><body>not xml", "<D:error xmlns:D=\"DAV:\"/>", ""])
    func aBodyThatIsNotAMultistatusIsRefused(_ text: String) {
        #expect(throws: DAVXMLError.self) { try parse(text) }
    }

    @Test func hrefsCompareByPathDecoded() {
        #expect(DAVMultistatus.hrefKey("http://h:1/a%20b/c.ics") == "/a b/c.ics")
        #expect(DAVMultistatus.hrefKey("/a b/c.ics") == "/a b/c.ics")
        #expect(DAVMultistatus.hrefKey("/cal/") == DAVMultistatus.hrefKey("https://x/cal"))
        #expect(DAVMultistatus.hrefKey("/") == "/")
    }

    @Test func retryAfterIsReadInSecondsOrAsADateFromTheAnswersDate() {
        #expect(DAVSyncCollection.retryAfter(HTTPHeaders([("Retry-After", " 7 ")])) == .seconds(7))
        let date = HTTPHeaders([("Date", "Sun, 06 Nov 1994 08:49:37 GMT"), ("Retry-After", "Sun, 06 Nov 1994 08:51:07 GMT")])
        #expect(DAVSyncCollection.retryAfter(date) == .seconds(90))
        let rfc850 = HTTPHeaders([("Date", "Sun, 06 Nov 1994 08:49:37 GMT"), ("Retry-After", "Sunday, 06-Nov-94 08:50:37 GMT")])
        #expect(DAVSyncCollection.retryAfter(rfc850) == .seconds(60))
        let asctime = HTTPHeaders([("Date", "Sun, 06 Nov 1994 08:49:37 GMT"), ("Retry-After", "Sun Nov  6 08:49:47 1994")])
        #expect(DAVSyncCollection.retryAfter(asctime) == .seconds(10))
        let past = HTTPHeaders([("Date", "Sun, 06 Nov 1994 08:49:37 GMT"), ("Retry-After", "Sun, 06 Nov 1994 08:00:00 GMT")])
        #expect(DAVSyncCollection.retryAfter(past) == .zero)
        #expect(DAVSyncCollection.retryAfter(HTTPHeaders([("Retry-After", "Sun, 06 Nov 1994 08:51:07 GMT")])) == nil)
        #expect(DAVSyncCollection.retryAfter(HTTPHeaders([("Retry-After", "soon")])) == nil)
        #expect(DAVSyncCollection.retryAfter(HTTPHeaders()) == nil)
    }

    @Test func pageTokensReadBackWhatTheyWrite() {
        let tokens: [DAVPageToken] = [
            .updated(drain: "D1", offset: 500, round: "http://radicale.org/ns/sync/abc def"),
            .deleted(drain: "D2", offset: 0, delta: ""),
        ]
        for token in tokens { #expect(DAVPageToken(token.text) == token) }
        #expect(DAVPageToken("x D1 0 t") == nil)
        #expect(DAVPageToken("u D1 -1 t") == nil)
        #expect(DAVPageToken("u D1 0") == nil)
    }
}
