import Foundation

/// A `DAV:multistatus` answer (RFC 4918 §13) to a `sync-collection` report (RFC 6578) or a
/// multiget report (RFC 4791 §7.9, RFC 6352 §8.7), read into what a DAV source needs.
///
/// Elements are matched on namespace URI and local name, so any prefixes (or default
/// namespaces) read the same. A member is:
/// - gone when its `response` carries a `404` or `410` status;
/// - found when its `response` carries a `2xx` status or propstats; its etag and data come
///   from the propstats with a `200` status; an empty data element counts as left out;
/// - otherwise skipped (a member the server refuses to describe).
///
/// A `response` with status `507` marks the answer as truncated (RFC 6578 §3.6). A response
/// for the collection itself is not a member.
struct DAVMultistatus: Sendable, Equatable {
    /// A member the answer describes as existing.
    struct Member: Sendable, Hashable {
        /// The href as the server wrote it (white space around it trimmed).
        var href: String
        /// The `getetag` value as the server wrote it, quotes included.
        var etag: String?
        /// The member's text with CR LF line ends restored, or `nil` when the answer left it out.
        var data: String?
    }

    /// A member with a status the source does not act on.
    struct Skipped: Sendable, Hashable {
        /// The href as the server wrote it.
        var href: String
        /// Its status.
        var status: Int
    }

    /// The collection's new sync token (the `sync-token` child of `multistatus`), if any.
    var syncToken: String?
    /// The members that exist, with what the answer gave of them.
    var found: [Member] = []
    /// The hrefs of the members that no longer exist.
    var gone: [String] = []
    /// The members with other statuses.
    var skipped: [Skipped] = []
    /// Whether the server said that it left changes out (`507` for the collection).
    var truncated = false

    /// Reads a multistatus body.
    ///
    /// - Parameters:
    ///   - kind: Which data property to read.
    ///   - collection: The collection's URL or path, whose own response is not a member.
    /// - Throws: ``DAVXMLError`` when the body is not XML or its root is not `DAV:multistatus`.
    init(parsing data: Data, kind: DAVKind, collection: String) throws {
        let root = try DAVXMLElement.parse(data)
        guard root.is(DAVXMLElement.dav, "multistatus") else {
            throw DAVXMLError(message: "the answer's root element is {\(root.namespace)}\(root.name), not {DAV:}multistatus")
        }
        let collectionKey = DAVMultistatus.hrefKey(collection)
        syncToken = root.child(DAVXMLElement.dav, "sync-token")?.trimmedText
        for response in root.children(DAVXMLElement.dav, "response") {
            let hrefs = response.children(DAVXMLElement.dav, "href").map(\.trimmedText).filter { !$0.isEmpty }
            guard !hrefs.isEmpty else { throw DAVXMLError(message: "a response of the multistatus has no href") }
            let status = response.child(DAVXMLElement.dav, "status").flatMap { DAVMultistatus.statusCode($0.text) }
            if status == 507 {
                truncated = true
                continue
            }
            for href in hrefs where DAVMultistatus.hrefKey(href) != collectionKey {
                switch status {
                case .some(404), .some(410):
                    gone.append(href)
                case .some(let code) where !(200..<300).contains(code):
                    skipped.append(Skipped(href: href, status: code))
                default:
                    found.append(Self.member(href, response, kind: kind))
                }
            }
        }
    }

    /// The member `href` with the etag and data of the `200` propstats of `response`.
    private static func member(_ href: String, _ response: DAVXMLElement, kind: DAVKind) -> Member {
        var member = Member(href: href, etag: nil, data: nil)
        for propstat in response.children(DAVXMLElement.dav, "propstat") {
            guard let status = propstat.child(DAVXMLElement.dav, "status").flatMap({ statusCode($0.text) }), status == 200,
                let prop = propstat.child(DAVXMLElement.dav, "prop")
            else { continue }
            if let etag = prop.child(DAVXMLElement.dav, "getetag")?.trimmedText, !etag.isEmpty {
                member.etag = etag
            }
            if let data = prop.child(kind.namespace, kind.dataElement)?.text,
                !data.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            {
                member.data = data.restoringCRLF
            }
        }
        return member
    }

    /// The code of a status line such as `HTTP/1.1 404 Not Found`.
    static func statusCode(_ line: String) -> Int? {
        let fields = line.split(whereSeparator: \.isWhitespace)
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/") else { return nil }
        return Int(fields[1])
    }

    /// The form under which two hrefs of the same resource compare equal: the path (an
    /// absolute URL loses its scheme and authority), percent-decoded, without a trailing
    /// slash.
    static func hrefKey(_ href: String) -> String {
        var path = Substring(href)
        if let scheme = path.range(of: "://") {
            let afterAuthority = path[scheme.upperBound...]
            path = afterAuthority.firstIndex(of: "/").map { afterAuthority[$0...] } ?? "/"
        }
        if let query = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<query] }
        var key = String(path).removingPercentEncoding ?? String(path)
        while key.count > 1 && key.hasSuffix("/") { key.removeLast() }
        return key
    }
}
