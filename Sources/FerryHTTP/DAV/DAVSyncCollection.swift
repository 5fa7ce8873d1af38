import AsyncHTTPClient
import FerryCore
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization

/// What ``CalDAVSource`` and ``CardDAVSource`` share: the `sync-collection` reports
/// (RFC 6578) on one collection, the multiget reports for data left out, the drains in
/// pages (``DAVDrains``), and the classification of failures.
final class DAVSyncCollection: Sendable {
    /// What the collection holds.
    let kind: DAVKind
    /// The collection's URL, exactly as given: every report is sent to it.
    let collectionURL: String
    /// The `Authorization` header value, when credentials were given.
    let authorization: String?
    let exchange: HTTPExchange
    let configuration: DAVSourceConfiguration
    let logger: Logger
    private let state: Mutex<DAVDrains>

    /// Creates the shared implementation for a collection of `kind`. Sends nothing.
    init(
        kind: DAVKind,
        collectionURL: String,
        username: String?,
        password: String?,
        httpClient: HTTPClient,
        configuration: DAVSourceConfiguration,
        logger: Logger
    ) {
        self.kind = kind
        self.collectionURL = collectionURL
        if let username {
            let credentials = Data("\(username):\(password ?? "")".utf8).base64EncodedString()
            authorization = "Basic \(credentials)"
        } else {
            authorization = nil
        }
        // The exchange's base is empty: targets are whole URLs, so the collection's URL is
        // sent exactly as given (a base URL would lose its trailing slash).
        exchange = HTTPExchange(client: httpClient, baseURL: "", maxResponseBytes: configuration.maxResponseBytes, logger: logger)
        self.configuration = configuration
        self.logger = logger
        state = Mutex(DAVDrains(pageSize: configuration.pageSize))
    }

    /// A full sync begins with the empty sync token (RFC 6578 §3.8); sends nothing.
    func start() -> DeltaStart {
        DeltaStart(tokens: DeltaTokens(single: ""), ready: true)
    }

    /// One page of the members created or changed; see ``CalDAVSource/updated(_:)``.
    func updated(_ position: DeltaPosition) async throws -> DeltaPage<DeltaRecord> {
        let page: DAVDrains.UpdatedPage
        switch position {
        case .delta(let token):
            let round = try await syncRound(from: token, withData: true)
            let id = UUID().uuidString
            page = state.withLock { $0.beginUpdated(id: id, deltaToken: token, round: round) }
        case .page(let text):
            guard case .updated(let id, let offset, let roundToken)? = DAVPageToken(text) else {
                throw DeltaSourceError(.badResponse, "\(name): \(text.debugDescription) is not a page token of this source's updated drain")
            }
            if let stored = state.withLock({ $0.updatedPage(drain: id, round: roundToken, offset: offset) }) {
                page = stored
            } else {
                logger.debug("running a sync round again for a page token", metadata: ["collection": "\(collectionURL)"])
                let round = try await syncRound(from: roundToken, withData: true)
                page = state.withLock { $0.install(id: id, round: round) }
            }
        }

        let missing = page.members.filter { $0.data == nil }.map(\.href)
        var fetched: [String: DAVMultistatus.Member] = [:]
        var vanished: [String] = []
        var start = 0
        while start < missing.count {
            let end = min(start + max(1, configuration.multigetBatchSize), missing.count)
            let batch = try await multiget(Array(missing[start..<end]))
            fetched.merge(batch.fetched) { _, new in new }
            vanished += batch.vanished
            start = end
        }
        var records: [DeltaRecord] = []
        records.reserveCapacity(page.members.count)
        for member in page.members {
            if let data = member.data {
                records.append(DeltaRecord(id: member.href, etag: member.etag, data: data))
            } else if let found = fetched[member.href], let data = found.data {
                records.append(DeltaRecord(id: member.href, etag: found.etag ?? member.etag, data: data))
            }
        }
        let last: Bool
        if case .done = page.next { last = true } else { last = false }
        state.withLock { $0.servedUpdated(drain: page.drain, vanished: vanished, last: last) }
        return DeltaPage(items: records, next: page.next)
    }

    /// One page of the hrefs deleted; see ``CalDAVSource/deleted(_:)``.
    func deleted(_ position: DeltaPosition) async throws -> DeltaPage<String> {
        switch position {
        case .delta(let token):
            if let page = state.withLock({ $0.beginDeleted(deltaToken: token) }) { return page }
            return try await findDeletions(since: token, drain: UUID().uuidString)
        case .page(let text):
            guard case .deleted(let id, let offset, let delta)? = DAVPageToken(text) else {
                throw DeltaSourceError(.badResponse, "\(name): \(text.debugDescription) is not a page token of this source's deleted drain")
            }
            if let page = state.withLock({ $0.deletedPage(drain: id, delta: delta, offset: offset) }) { return page }
            return try await findDeletions(since: delta, drain: id)
        }
    }

    /// Runs `sync-collection` reports without data from `token` until one is not truncated,
    /// and installs the deletions they report as drain `id`; answers the first page.
    private func findDeletions(since token: String, drain id: String) async throws -> DeltaPage<String> {
        logger.debug("finding the deletions with a sync report of their own", metadata: ["collection": "\(collectionURL)"])
        var deletions = DAVDrains.Drain(id: id, next: token)
        var from = token
        while true {
            let round = try await syncRound(from: from, withData: false)
            deletions.add(round)
            guard round.truncated else { break }
            from = round.next
        }
        let gone = deletions.orderedDeletions
        let next = deletions.next
        return state.withLock { $0.installDeletions(id: id, deltaToken: token, gone: gone, next: next) }
    }

    /// The collection's name in messages.
    var name: String { "\(kind.protocolName) \(collectionURL)" }
}

extension DAVSyncCollection {
    /// Runs one `sync-collection` report from `token`: with the members' data, or (for the
    /// deletions alone) with their etags only.
    ///
    /// - Throws: ``FerryCore/DeltaSourceError``: `tokenInvalid` when the server no longer
    ///   knows `token`; `badResponse` when the answer has no sync token, or is truncated
    ///   without moving on.
    func syncRound(from token: String, withData: Bool) async throws -> DAVSyncRound {
        let dataProperty = withData ? "<C:\(kind.dataElement)/>" : ""
        let tokenElement = token.isEmpty ? "<D:sync-token/>" : "<D:sync-token>\(token.xmlEscaped)</D:sync-token>"
        let body = """
            <?xml version="1.0" encoding="utf-8"?>
            <D:sync-collection xmlns:D="DAV:" xmlns:C="\(kind.namespace)">\
            \(tokenElement)<D:sync-level>1</D:sync-level>\
            <D:prop><D:getetag/>\(dataProperty)</D:prop></D:sync-collection>
            """
        let answer = try await report(body, route: "sync-collection")
        let multistatus = try read(answer, route: "sync-collection")
        guard let next = multistatus.syncToken, !next.isEmpty else {
            throw DeltaSourceError(.badResponse, "\(name): the sync-collection answer has no sync token", status: answer.status)
        }
        if multistatus.truncated && next == token && multistatus.found.isEmpty && multistatus.gone.isEmpty {
            throw DeltaSourceError(
                .badResponse,
                "\(name): the server truncated the sync-collection answer without reporting anything or moving its token on",
                status: answer.status
            )
        }
        for skipped in multistatus.skipped {
            logger.warning(
                "a member the sync report gave no usable status for is left as it was",
                metadata: ["collection": "\(collectionURL)", "href": "\(skipped.href)", "status": "\(skipped.status)"]
            )
        }
        logger.debug(
            "sync round read",
            metadata: [
                "collection": "\(collectionURL)", "found": "\(multistatus.found.count)", "gone": "\(multistatus.gone.count)",
                "truncated": "\(multistatus.truncated)",
            ]
        )
        return DAVSyncRound(
            token: token,
            found: multistatus.found,
            gone: multistatus.gone,
            next: next,
            truncated: multistatus.truncated
        )
    }

    /// Fetches `hrefs` with a multiget report: answers the members found with their data,
    /// keyed by the href as requested, and the hrefs that no longer exist.
    ///
    /// - Throws: ``FerryCore/DeltaSourceError/Code/badResponse`` when the answer leaves a
    ///   member out, or gives one without its data.
    func multiget(_ hrefs: [String]) async throws -> (fetched: [String: DAVMultistatus.Member], vanished: [String]) {
        let hrefElements = hrefs.map { "<D:href>\($0.xmlEscaped)</D:href>" }.joined()
        let body = """
            <?xml version="1.0" encoding="utf-8"?>
            <C:\(kind.multigetElement) xmlns:D="DAV:" xmlns:C="\(kind.namespace)">\
            <D:prop><D:getetag/><C:\(kind.dataElement)/></D:prop>\(hrefElements)</C:\(kind.multigetElement)>
            """
        let answer = try await report(body, route: kind.multigetElement)
        let multistatus = try read(answer, route: kind.multigetElement)
        var found: [String: DAVMultistatus.Member] = [:]
        for member in multistatus.found { found[DAVMultistatus.hrefKey(member.href)] = member }
        let gone = Set(multistatus.gone.map(DAVMultistatus.hrefKey))
        let skipped = Set(multistatus.skipped.map { DAVMultistatus.hrefKey($0.href) })
        var fetched: [String: DAVMultistatus.Member] = [:]
        var vanished: [String] = []
        for href in hrefs {
            let key = DAVMultistatus.hrefKey(href)
            if let member = found[key] {
                guard member.data != nil else {
                    throw DeltaSourceError(
                        .badResponse,
                        "\(name): the server gave no \(kind.dataElement) for \(href), in the sync report nor by \(kind.multigetElement)",
                        status: answer.status
                    )
                }
                fetched[href] = member
            } else if gone.contains(key) {
                vanished.append(href)
            } else if skipped.contains(key) {
                logger.warning(
                    "a member the multiget gave no usable status for is left as it was",
                    metadata: ["collection": "\(collectionURL)", "href": "\(href)"]
                )
            } else {
                throw DeltaSourceError(
                    .badResponse,
                    "\(name): the \(kind.multigetElement) answer leaves out \(href)",
                    status: answer.status
                )
            }
        }
        return (fetched, vanished)
    }

    /// Reads a success answer as a multistatus.
    private func read(_ answer: HTTPExchange.Answer, route: String) throws -> DAVMultistatus {
        do {
            return try DAVMultistatus(parsing: Data(buffer: answer.body), kind: kind, collection: collectionURL)
        } catch {
            throw DeltaSourceError(
                .badResponse,
                "\(name): the \(route) answer (HTTP \(answer.status)) cannot be read: \(error)",
                status: answer.status,
                cause: error
            )
        }
    }

    /// Sends a `REPORT` with `body` to the collection (`Depth: 0`, `Cache-Control: no-cache`,
    /// the credentials) and reads its answer whole.
    ///
    /// - Throws: ``FerryCore/DeltaSourceError`` classified by ``error(status:headers:body:route:)``
    ///   for an answer other than `2xx`; `unavailable` when the server could not be reached
    ///   or the answer not read; `CancellationError` when the calling task was cancelled.
    func report(_ body: String, route: String) async throws -> HTTPExchange.Answer {
        var headers: [(name: String, value: String)] = [("Depth", "0"), ("Cache-Control", "no-cache")]
        if let authorization { headers.append(("Authorization", authorization)) }
        let answer: HTTPExchange.Answer
        do {
            let response = try await exchange.start(
                .REPORT,
                collectionURL,
                bearer: nil,
                body: ByteBuffer(string: body),
                timeout: configuration.requestTimeout,
                accept: "application/xml, text/xml",
                contentType: "application/xml; charset=utf-8",
                headers: headers
            )
            answer = try await exchange.read(response, .REPORT, collectionURL)
        } catch let error as SyncTransportError {
            throw DeltaSourceError(.unavailable, "\(name): \(route): \(error.message)", cause: error.underlying ?? error)
        }
        guard (200..<300).contains(answer.status) else {
            throw error(status: answer.status, headers: answer.headers, body: answer.body, route: route)
        }
        return answer
    }

    /// The error an answer other than `2xx` stands for:
    /// - a `4xx` whose body names the `DAV:valid-sync-token` precondition (RFC 6578 §3.2:
    ///   servers answer `403` or `409`): `tokenInvalid`;
    /// - `401` and `403`: `unauthorized`;
    /// - `429` and `503`: `rateLimited`, with `Retry-After` (delta-seconds, or an HTTP-date
    ///   counted from the answer's `Date`);
    /// - any other `5xx`: `unavailable`;
    /// - anything else: `badResponse`.
    func error(status: Int, headers: HTTPHeaders, body: ByteBuffer, route: String) -> DeltaSourceError {
        let text = String(decoding: body.readableBytesView.prefix(200), as: UTF8.self)
        let message = text.isEmpty ? "\(name): \(route): HTTP \(status)" : "\(name): \(route): HTTP \(status): \(text)"
        if (400..<500).contains(status), status != 401, status != 429,
            let error = try? DAVXMLElement.parse(Data(buffer: body)), error.contains(DAVXMLElement.dav, "valid-sync-token")
        {
            return DeltaSourceError(.tokenInvalid, message, status: status)
        }
        switch status {
        case 401, 403:
            return DeltaSourceError(.unauthorized, message, status: status)
        case 429, 503:
            return DeltaSourceError(.rateLimited, message, status: status, retryAfter: Self.retryAfter(headers))
        case 500..<600:
            return DeltaSourceError(.unavailable, message, status: status)
        default:
            return DeltaSourceError(.badResponse, message, status: status)
        }
    }

    /// The delay a `Retry-After` header asks for: delta-seconds, or an HTTP-date counted from
    /// the answer's `Date` header (the server's clock, so no local clock is read); `nil`
    /// when absent or unreadable, or a date without a `Date` header.
    static func retryAfter(_ headers: HTTPHeaders) -> Duration? {
        let now = headers.first(name: "Date").flatMap(RetryAfter.httpDateMilliseconds)
        return RetryAfter.delay(headers, nowMilliseconds: now)
    }
}
