import AsyncHTTPClient
import FerryCore
import Logging
import NIOCore
import NIOHTTP1

/// The ``FerryCore/DeltaSource`` of one Aurinko stream (email, contacts, or one calendar's
/// events), over Aurinko's REST API with AsyncHTTPClient.
///
/// Each call makes one request, with `Authorization: Bearer <account token>` and
/// `Cache-Control: no-cache` (Aurinko's sync answers must never come from a cache):
/// - ``start()`` is `POST {stream}/sync` with the stream's filters, answering
///   `syncUpdatedToken`, `syncDeletedToken` and `ready`;
/// - ``updated(_:)`` is `GET {stream}/sync/updated`, ``deleted(_:)`` is
///   `GET {stream}/sync/deleted`. A ``FerryCore/DeltaPosition/delta(_:)`` position is sent as
///   `deltaToken`, a ``FerryCore/DeltaPosition/page(_:)`` position as `pageToken`, never the
///   other way round. A page that carries `nextPageToken` continues the drain
///   (``FerryCore/DeltaPage/Next/page(_:)``), even if it carries `nextDeltaToken` as well; the
///   last page carries only `nextDeltaToken`, the token for the next sync
///   (``FerryCore/DeltaPage/Next/done(nextDeltaToken:)``).
///
/// An updated record becomes a ``FerryCore/DeltaRecord`` whose `id` is the record's `id`
/// (a string, or an integer written in decimal), whose `etag` is its `etag` when that is a
/// string, and whose `data` is the record's JSON text exactly as the server sent it: the
/// bytes from its `{` to its `}`, with the server's member order, spacing, escapes and number
/// spellings. Deleted pages may list ids as they are (strings or integers) or as objects with
/// an `id`.
///
/// Every failure is thrown as a ``FerryCore/DeltaSourceError``:
/// - `401`, `403`: `unauthorized`;
/// - `410`: `tokenInvalid` (the token is stale; a full sync must start over);
/// - `429`, `503`: `rateLimited`, with `retryAfter` from `Retry-After` in seconds or as an
///   HTTP-date (measured against the source's wall clock);
/// - any other `5xx`, a network failure or a timeout: `unavailable`, carrying the cause;
/// - any other status, a body that is not the JSON Aurinko sends (a record without an id, a
///   page with neither token), or a body longer than the limit: `badResponse`.
///
/// The message names the stream and the request's path (never its tokens) and quotes the
/// server's error message when its body has one. `ready: false` is not a failure: ``start()``
/// answers it, and starting again later is the caller's decision. A cancelled call throws
/// `CancellationError`.
public struct AurinkoSource: DeltaSource {
    /// Aurinko's API root: `https://api.aurinko.io/v1`.
    public static let defaultBaseURL = "https://api.aurinko.io/v1"

    /// The name the stream's records and tokens are kept under: ``AurinkoStream/name``.
    public let stream: String

    let resource: AurinkoStream
    let accountToken: String
    let exchange: HTTPExchange
    let requestTimeout: Duration
    let wallClock: WallClock

    /// Creates the source of `stream` for the account whose access token is `accountToken`.
    /// Sends nothing.
    ///
    /// - Parameters:
    ///   - baseURL: The API root, version included: request paths such as `/email/sync` are
    ///     appended to it, so it is `https://api.aurinko.io/v1` (the default) rather than
    ///     `https://api.aurinko.io`. A trailing slash is ignored.
    ///   - accountToken: The account access token, sent as `Authorization: Bearer …`.
    ///   - stream: What to sync.
    ///   - httpClient: The client to send requests with; the source never shuts it down.
    ///     Default: `HTTPClient.shared`, which follows redirects but drops `Authorization` on
    ///     one that leaves the origin.
    ///   - requestTimeout: How long a request may take until its answer's head arrives.
    ///     Default: 30 seconds.
    ///   - maxResponseBytes: The largest answer body read; a longer one fails the call as
    ///     `badResponse`. Default: 64 MiB.
    ///   - wallClock: The clock an HTTP-date `Retry-After` is measured against. Default: the
    ///     system's.
    ///   - logger: Where requests are logged, at `debug`. Default: discards everything.
    public init(
        baseURL: String = AurinkoSource.defaultBaseURL,
        accountToken: String,
        stream: AurinkoStream,
        httpClient: HTTPClient = .shared,
        requestTimeout: Duration = .seconds(30),
        maxResponseBytes: Int = 64 << 20,
        wallClock: WallClock = .system,
        logger: Logger = Logger(label: "ferry.aurinko", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.stream = stream.name
        self.resource = stream
        self.accountToken = accountToken
        self.exchange = HTTPExchange(client: httpClient, baseURL: baseURL, maxResponseBytes: maxResponseBytes, logger: logger)
        self.requestTimeout = requestTimeout
        self.wallClock = wallClock
    }

    /// Starts a full sync with `POST {stream}/sync` and the stream's filters.
    ///
    /// Answers both tokens with `ready: true`; while Aurinko is still preparing the sync,
    /// answers `ready: false` with whatever tokens it sent (empty when it sent none). An
    /// answer without `ready` counts as ready.
    ///
    /// - Throws: ``FerryCore/DeltaSourceError`` (`badResponse` when a ready answer lacks a
    ///   token), `CancellationError`.
    public func start() async throws -> DeltaStart {
        let target = "\(resource.path)/sync\(resource.startQuery)"
        let answer = try await send(.POST, target)
        return try read(answer, .POST, target, Self.readStart)
    }

    /// One page of records created or changed since `position`, with
    /// `GET {stream}/sync/updated`.
    ///
    /// - Throws: ``FerryCore/DeltaSourceError`` (`badResponse` when a record has no id),
    ///   `CancellationError`.
    public func updated(_ position: DeltaPosition) async throws -> DeltaPage<DeltaRecord> {
        let target = Self.drainTarget("\(resource.path)/sync/updated", position)
        let answer = try await send(.GET, target)
        return try read(answer, .GET, target, Self.readUpdatedPage)
    }

    /// One page of the ids of records deleted since `position`, with
    /// `GET {stream}/sync/deleted`.
    ///
    /// - Throws: ``FerryCore/DeltaSourceError``, `CancellationError`.
    public func deleted(_ position: DeltaPosition) async throws -> DeltaPage<String> {
        let target = Self.drainTarget("\(resource.path)/sync/deleted", position)
        let answer = try await send(.GET, target)
        return try read(answer, .GET, target, Self.readDeletedPage)
    }

    // MARK: Requests

    /// `path` with the position's token: `deltaToken` for the first call of a drain,
    /// `pageToken` for the others.
    static func drainTarget(_ path: String, _ position: DeltaPosition) -> String {
        switch position {
        case .delta(let token): "\(path)?deltaToken=\(HTTPTransport.percentEncode(token))"
        case .page(let token): "\(path)?pageToken=\(HTTPTransport.percentEncode(token))"
        }
    }

    /// Sends a request and reads its answer; answers a `2xx` one, throws the classified
    /// error of any other or of a request that got no answer.
    private func send(_ method: HTTPMethod, _ target: String) async throws -> HTTPExchange.Answer {
        let answer: HTTPExchange.Answer
        do {
            let response = try await exchange.start(
                method,
                target,
                bearer: accountToken,
                timeout: requestTimeout,
                headers: [(name: "Cache-Control", value: "no-cache")]
            )
            answer = try await exchange.read(response, method, target)
        } catch let error as SyncTransportError {
            let cause = error.underlying ?? error
            if cause is NIOTooManyBytesError {
                throw DeltaSourceError(
                    .badResponse,
                    "\(stream): the answer to \(method.rawValue) \(HTTPExchange.path(of: target)) is longer than \(exchange.maxResponseBytes) bytes",
                    cause: cause
                )
            }
            throw DeltaSourceError(.unavailable, "\(stream): \(error.message)", cause: cause)
        }
        guard (200..<300).contains(answer.status) else {
            throw failure(answer, method, target)
        }
        return answer
    }

    /// The error an answer other than `2xx` stands for.
    private func failure(_ answer: HTTPExchange.Answer, _ method: HTTPMethod, _ target: String) -> DeltaSourceError {
        let code = Self.code(status: answer.status)
        var message = "\(stream): \(method.rawValue) \(HTTPExchange.path(of: target)) answered HTTP \(answer.status)"
        if let detail = Self.serverMessage(answer.body) { message += ": \(detail)" }
        let retryAfter =
            code == .rateLimited ? RetryAfter.delay(answer.headers, nowMilliseconds: wallClock.nowMilliseconds()) : nil
        return DeltaSourceError(code, message, status: answer.status, retryAfter: retryAfter)
    }

    /// How a status other than `2xx` is classified.
    static func code(status: Int) -> DeltaSourceError.Code {
        switch status {
        case 401, 403: .unauthorized
        case 410: .tokenInvalid
        case 429, 503: .rateLimited
        case 500...599: .unavailable
        default: .badResponse
        }
    }

    /// The message of an error body: its `message`, `error` (a string, or an object with a
    /// `message`), `error_description` or `errorMessage`; or the start of a body that is not
    /// JSON; `nil` for an empty body or JSON without any of these.
    static func serverMessage(_ body: ByteBuffer) -> String? {
        guard body.readableBytes > 0 else { return nil }
        guard let value = try? JSONValue(parsing: body.readableBytesView) else {
            let text = String(decoding: body.readableBytesView.prefix(200), as: UTF8.self)
            return text.isEmpty ? nil : text
        }
        guard let members = value.objectValue else { return nil }
        for key in ["message", "error", "error_description", "errorMessage"] {
            switch members[key] {
            case .string(let text) where !text.isEmpty:
                return text
            case .object(let inner):
                if case .string(let text) = inner["message"], !text.isEmpty { return text }
            default:
                continue
            }
        }
        return nil
    }

    /// Reads a `2xx` answer's body with `reader`; a body it cannot read is `badResponse`.
    private func read<T>(
        _ answer: HTTPExchange.Answer,
        _ method: HTTPMethod,
        _ target: String,
        _ reader: (UnsafeRawBufferPointer) throws -> T
    ) throws -> T {
        do {
            return try answer.body.withUnsafeReadableBytes { try reader($0) }
        } catch {
            throw DeltaSourceError(
                .badResponse,
                "\(stream): the HTTP \(answer.status) answer to \(method.rawValue) \(HTTPExchange.path(of: target)) is not what Aurinko sends: \(error)",
                status: answer.status,
                cause: error
            )
        }
    }
}

// MARK: Reading answers

extension AurinkoSource {
    /// Reads `{syncUpdatedToken, syncDeletedToken, ready}`.
    static func readStart(_ body: UnsafeRawBufferPointer) throws -> DeltaStart {
        var updated: String?
        var deleted: String?
        var ready: Bool?
        try JSONReader.withReader(body) { reader in
            try reader.readMembers { reader, key in
                switch key {
                case "syncUpdatedToken": updated = try reader.readOptionalString()
                case "syncDeletedToken": deleted = try reader.readOptionalString()
                case "ready": ready = try reader.readNull() ? nil : reader.readBool()
                default: try reader.skipValue()
                }
            }
        }
        guard ready ?? true else {
            return DeltaStart(tokens: DeltaTokens(updated: updated ?? "", deleted: deleted ?? ""), ready: false)
        }
        guard let updated, !updated.isEmpty else { throw JSONReadError("is required", path: ["syncUpdatedToken"], offset: 0) }
        guard let deleted, !deleted.isEmpty else { throw JSONReadError("is required", path: ["syncDeletedToken"], offset: 0) }
        return DeltaStart(tokens: DeltaTokens(updated: updated, deleted: deleted), ready: true)
    }

    /// Reads `{records: [record], nextPageToken | nextDeltaToken}`, keeping each record's
    /// text as sent.
    static func readUpdatedPage(_ body: UnsafeRawBufferPointer) throws -> DeltaPage<DeltaRecord> {
        try readPage(body) { reader in try readRecord(&reader, in: body) }
    }

    /// Reads `{records: [id or {id, …}], nextPageToken | nextDeltaToken}`.
    static func readDeletedPage(_ body: UnsafeRawBufferPointer) throws -> DeltaPage<String> {
        try readPage(body) { reader in
            let value = try reader.readValue()
            if case .object(let members) = value {
                guard let member = members["id"] else { throw reader.missing("id") }
                guard let id = identifier(member) else {
                    throw JSONReadError("must be a string or an integer", path: ["id"], offset: reader.offset)
                }
                return id
            } else if let id = identifier(value) {
                return id
            } else {
                throw reader.error("must be an id or an object with an id")
            }
        }
    }

    /// Reads a page `{records: [item], nextPageToken | nextDeltaToken}`, each item by `item`.
    private static func readPage<Item: Sendable>(
        _ body: UnsafeRawBufferPointer,
        item: (inout JSONReader) throws -> Item
    ) throws -> DeltaPage<Item> {
        var items: [Item] = []
        var nextPage: String?
        var nextDelta: String?
        try JSONReader.withReader(body) { reader in
            try reader.readMembers { reader, key in
                switch key {
                case "records":
                    guard try !reader.readNull() else { return }
                    try reader.readArray { reader, _ in items.append(try item(&reader)) }
                case "nextPageToken": nextPage = try reader.readOptionalString()
                case "nextDeltaToken": nextDelta = try reader.readOptionalString()
                default: try reader.skipValue()
                }
            }
        }
        return DeltaPage(items: items, next: try next(page: nextPage, delta: nextDelta))
    }

    /// Reads one record object: its id and etag, and its text from `{` to `}` as sent.
    private static func readRecord(_ reader: inout JSONReader, in body: UnsafeRawBufferPointer) throws -> DeltaRecord {
        var start = reader.offset
        var id: String?
        var etag: String?
        try reader.readMembers { reader, key in
            switch key {
            case "id":
                guard let value = identifier(try reader.readValue()) else { throw reader.error("must be a string or an integer") }
                id = value
            case "etag":
                if case .string(let value) = try reader.readValue() { etag = value }
            default:
                try reader.skipValue()
            }
        }
        guard let id else { throw reader.missing("id") }
        // The reader starts before the whitespace that precedes the object.
        while start < reader.offset, body[start] != UInt8(ascii: "{") { start += 1 }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: body[start..<reader.offset]), as: UTF8.self)
        return DeltaRecord(id: id, etag: etag, data: text)
    }

    /// A record id: a non-empty string, or an integer in decimal.
    private static func identifier(_ value: JSONValue) -> String? {
        switch value {
        case .string(let id) where !id.isEmpty: id
        case .int(let number): String(number)
        default: nil
        }
    }

    /// What follows a page: its `nextPageToken` when it has one, else its `nextDeltaToken`.
    private static func next<Item: Sendable>(page: String?, delta: String?) throws -> DeltaPage<Item>.Next {
        if let page, !page.isEmpty { return .page(page) }
        if let delta, !delta.isEmpty { return .done(nextDeltaToken: delta) }
        throw JSONReadError("has neither nextPageToken nor nextDeltaToken", offset: 0)
    }
}
