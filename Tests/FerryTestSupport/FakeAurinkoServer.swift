import FerryCore
import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// A fake of Aurinko's sync API on 127.0.0.1, as its documentation describes it, for tests.
///
/// Under `/v1` it answers `POST {stream}/sync`, `GET {stream}/sync/updated` and
/// `GET {stream}/sync/deleted` for `/email`, `/contacts` and `/calendars/{id}` (the id
/// percent-decoded from the path; any id exists, empty until a record is added). Every
/// request must carry `Authorization: Bearer <account token>`, or the answer is `401`.
///
/// The records of each stream live in a change log, so tokens are real positions: a start
/// hands out an updated token that drains every current record and a deleted token at the
/// log's head; each drain's last page carries `nextDeltaToken`, the position the drain began
/// at the log's head, so the next drain returns only what changed since (changed records in
/// the updated drain, deleted ids in the deleted drain). Pages hold at most ``pageSize`` items.
/// The first call of a drain must send `deltaToken` and the others `pageToken`: a page token
/// sent as `deltaToken`, a delta token sent as `pageToken`, both, neither, an unknown token or
/// one of another drain is `400`. A token handed out before ``resetTokens(_:)`` of its stream,
/// or expired with ``expireToken(_:)``, is `410`.
///
/// Tests script faults (``answerNotReady(starts:)``, ``injectFault(_:onCall:)``) and read
/// what the server received (``received``). Everything is synchronous and in memory; the
/// server never waits on a clock.
public final class FakeAurinkoServer: Sendable {
    /// One of an account's streams.
    public enum Stream: Sendable, Hashable, CustomStringConvertible {
        /// `/email`.
        case email
        /// `/contacts`.
        case contacts
        /// `/calendars/{id}`.
        case calendar(String)

        /// `email`, `contacts` or `calendar:ID`, as `AurinkoStream.name` spells it.
        public var description: String {
            switch self {
            case .email: "email"
            case .contacts: "contacts"
            case .calendar(let id): "calendar:\(id)"
            }
        }
    }

    /// Which sync call a request was.
    public enum Endpoint: String, Sendable, Hashable {
        /// `POST {stream}/sync`.
        case start
        /// `GET {stream}/sync/updated`.
        case updated
        /// `GET {stream}/sync/deleted`.
        case deleted
    }

    /// An answer scripted in place of the real one.
    public enum Fault: Sendable {
        /// This status, with `Retry-After: retryAfter` when given, and a body
        /// `{"code": …, "message": message}` when a message is given.
        case status(Int, retryAfter: String? = nil, message: String? = nil)
        /// This body, as given, with this status (`200` by default).
        case body(String, status: Int = 200)
        /// No answer until ``FakeAurinkoServer/releaseHungCalls()`` (or the end of
        /// ``FakeAurinkoServer/run(_:)``), then `503`.
        case hang
    }

    /// A request the server received, and the status it answered.
    public struct Received: Sendable {
        /// Its place among all requests, from 1.
        public var number: Int
        /// `GET` or `POST`.
        public var method: String
        /// The path as sent, percent-encoding kept (`/v1/calendars/a%2Fb/sync`).
        public var path: String
        /// The stream the path names, `nil` for a path that names none.
        public var stream: Stream?
        /// The call the path names, `nil` for a path that names none.
        public var endpoint: Endpoint?
        /// The query parameters, values percent-decoded.
        public var query: [String: String]
        /// The `Authorization` header.
        public var authorization: String?
        /// The `Cache-Control` header.
        public var cacheControl: String?
        /// The status the server answered.
        public var status: Int

        /// The `deltaToken` parameter.
        public var deltaToken: String? { query["deltaToken"] }
        /// The `pageToken` parameter.
        public var pageToken: String? { query["pageToken"] }
    }

    private struct Record {
        var json: String
        var seq: Int
    }

    private struct StreamState {
        var epoch = 0
        var records: [String: Record] = [:]
        /// The ids deleted and not added again, with the position of their deletion.
        var deletions: [String: Int] = [:]
    }

    private struct DeltaToken {
        var stream: Stream
        var endpoint: Endpoint
        var epoch: Int
        var position: Int
    }

    private struct PageToken {
        var stream: Stream
        var endpoint: Endpoint
        var epoch: Int
        var ids: [String]
        var upTo: Int
    }

    private struct State {
        var accountToken: String
        var pageSize: Int
        var deletedAsStrings = false
        var head = 0
        var streams: [Stream: StreamState] = [:]
        var deltaTokens: [String: DeltaToken] = [:]
        var pageTokens: [String: PageToken] = [:]
        var expired: Set<String> = []
        var tokenCount = 0
        var notReadyStarts = 0
        var faults: [Int: Fault] = [:]
        var calls = 0
        var received: [Received] = []
        var hung: [CheckedContinuation<Void, Never>] = []
        var released = false

        mutating func newToken(_ prefix: String) -> String {
            tokenCount += 1
            // Shaped like real tokens, with characters a query must percent-encode.
            return "\(prefix)+\(tokenCount)/Zm9v=="
        }
    }

    private struct Answer {
        var status: Int
        var body: String
        var retryAfter: String?
    }

    private let state: Mutex<State>

    /// A server that accepts `accountToken` and answers pages of at most `pageSize` items.
    public init(accountToken: String = "account-token", pageSize: Int = 2) {
        state = Mutex(State(accountToken: accountToken, pageSize: max(1, pageSize)))
    }

    // MARK: Data

    /// Adds the record `id` to `stream`, or replaces it: a change in the log. `json` is the
    /// record's text as the server will send it, verbatim (it should hold `"id": id`);
    /// by default `{"id":ID,"etag":"vN","version":N}` with N the change's position.
    public func upsert(_ stream: Stream, id: String, json: String? = nil) {
        state.withLock { state in
            state.head += 1
            let text = json ?? "{\"id\":\(Self.quoted(id)),\"etag\":\"v\(state.head)\",\"version\":\(state.head)}"
            state.streams[stream, default: StreamState()].records[id] = Record(json: text, seq: state.head)
            state.streams[stream, default: StreamState()].deletions[id] = nil
        }
    }

    /// Deletes the record `id` of `stream`, a change in the log; an unknown id is ignored.
    public func delete(_ stream: Stream, id: String) {
        state.withLock { state in
            guard state.streams[stream]?.records[id] != nil else { return }
            state.head += 1
            state.streams[stream]?.records[id] = nil
            state.streams[stream]?.deletions[id] = state.head
        }
    }

    /// The current records of `stream`: id to JSON text.
    public func records(_ stream: Stream) -> [String: String] {
        state.withLock { state in (state.streams[stream]?.records ?? [:]).mapValues(\.json) }
    }

    // MARK: Behaviour

    /// Makes every token of `stream` handed out so far stale: using one answers `410`.
    public func resetTokens(_ stream: Stream) {
        state.withLock { $0.streams[stream, default: StreamState()].epoch += 1 }
    }

    /// Makes `token` (a delta or a page token) stale: using it answers `410`.
    public func expireToken(_ token: String) {
        state.withLock { _ = $0.expired.insert(token) }
    }

    /// Accepts only `token` from now on.
    public func setAccountToken(_ token: String) {
        state.withLock { $0.accountToken = token }
    }

    /// The most items a page holds.
    public var pageSize: Int {
        state.withLock { $0.pageSize }
    }

    /// Answers pages of at most `size` items (at least 1) from now on, pages of drains under
    /// way included.
    public func setPageSize(_ size: Int) {
        state.withLock { $0.pageSize = max(1, size) }
    }

    /// Lists deleted ids as plain strings (`true`) or as `{"id": …}` objects (`false`, the
    /// default).
    public func setDeletedAsStrings(_ plain: Bool) {
        state.withLock { $0.deletedAsStrings = plain }
    }

    /// The next `starts` starts (of any stream) answer `ready: false` without tokens.
    public func answerNotReady(starts: Int) {
        state.withLock { $0.notReadyStarts = starts }
    }

    /// The request numbered `call` (counting every request the server receives, from 1) is
    /// answered with `fault`, whatever it is.
    public func injectFault(_ fault: Fault, onCall call: Int) {
        state.withLock { $0.faults[call] = fault }
    }

    /// The next request, whatever it is, is answered with `fault`.
    public func failNextCall(with fault: Fault) {
        state.withLock { $0.faults[$0.calls + 1] = fault }
    }

    /// Answers every request held by a ``Fault/hang`` fault (with `503`), and every later
    /// one at once.
    public func releaseHungCalls() {
        let waiting = state.withLock { state in
            state.released = true
            defer { state.hung = [] }
            return state.hung
        }
        for continuation in waiting { continuation.resume() }
    }

    // MARK: What happened

    /// The requests received so far, in the order they arrived.
    public var received: [Received] {
        state.withLock { $0.received }.sorted { $0.number < $1.number }
    }

    /// How many requests the server has received.
    public var callCount: Int {
        state.withLock { $0.calls }
    }

    // MARK: Running

    /// Runs `body` with the server listening on a free port of 127.0.0.1, given the API root
    /// (`http://127.0.0.1:PORT/v1`); stops the server when `body` returns or throws, after
    /// releasing hung calls.
    public func run<T: Sendable>(_ body: (String) async throws -> T) async throws -> T {
        let responder = CallbackResponder<BasicRequestContext> { request, _ in await self.respond(to: request) }
        return try await runStubServer(responder: responder, label: "fake-aurinko") { root in
            let result: Result<T, any Error>
            do {
                result = .success(try await body(root + "/v1"))
            } catch {
                result = .failure(error)
            }
            releaseHungCalls()
            return try result.get()
        }
    }

    private func respond(to request: Request) async -> Response {
        let path = request.uri.path
        let route = Self.route(path)
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        let authorization = request.headers[.authorization]
        let (number, fault) = state.withLock { state -> (Int, Fault?) in
            state.calls += 1
            return (state.calls, state.faults.removeValue(forKey: state.calls))
        }
        let answer: Answer
        switch fault {
        case .status(let status, let retryAfter, let message):
            answer = Answer(status: status, body: message.map { Self.error("scripted", $0) } ?? "", retryAfter: retryAfter)
        case .body(let text, let status):
            answer = Answer(status: status, body: text)
        case .hang:
            await withCheckedContinuation { continuation in
                let released = state.withLock { state in
                    if !state.released { state.hung.append(continuation) }
                    return state.released
                }
                if released { continuation.resume() }
            }
            answer = Answer(status: 503, body: Self.error("unavailable", "released after hanging"))
        case nil:
            answer = state.withLock { state in
                Self.answer(
                    &state,
                    method: request.method.rawValue,
                    route: route,
                    query: query,
                    authorization: authorization
                )
            }
        }
        let entry = Received(
            number: number,
            method: request.method.rawValue,
            path: path,
            stream: route?.stream,
            endpoint: route?.endpoint,
            query: query,
            authorization: authorization,
            cacheControl: request.headers[.cacheControl],
            status: answer.status
        )
        state.withLock { $0.received.append(entry) }
        var headers = HTTPFields()
        if !answer.body.isEmpty { headers[.contentType] = "application/json" }
        if let retryAfter = answer.retryAfter { headers[.retryAfter] = retryAfter }
        return Response(
            status: HTTPResponse.Status(code: answer.status),
            headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: answer.body))
        )
    }

    // MARK: The API

    /// The stream and call a raw path names: `/v1/email/sync/updated`,
    /// `/v1/calendars/{id}/sync`, and so on.
    private static func route(_ path: String) -> (stream: Stream, endpoint: Endpoint)? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        guard parts.first == "v1" else { return nil }
        var rest = Array(parts.dropFirst())
        let stream: Stream
        switch rest.first {
        case "email":
            stream = .email
            rest.removeFirst()
        case "contacts":
            stream = .contacts
            rest.removeFirst()
        case "calendars":
            guard rest.count >= 2, let id = rest[1].removingPercentEncoding, !id.isEmpty else { return nil }
            stream = .calendar(id)
            rest.removeFirst(2)
        default:
            return nil
        }
        switch rest {
        case ["sync"]: return (stream, .start)
        case ["sync", "updated"]: return (stream, .updated)
        case ["sync", "deleted"]: return (stream, .deleted)
        default: return nil
        }
    }

    private static func answer(
        _ state: inout State,
        method: String,
        route: (stream: Stream, endpoint: Endpoint)?,
        query: [String: String],
        authorization: String?
    ) -> Answer {
        guard authorization == "Bearer \(state.accountToken)" else {
            return Answer(status: 401, body: error("unauthorized", "the account token is missing or not valid"))
        }
        guard let route else { return Answer(status: 404, body: error("notFound", "no such resource")) }
        let expected = route.endpoint == .start ? "POST" : "GET"
        guard method == expected else { return Answer(status: 405, body: error("methodNotAllowed", "use \(expected)")) }
        switch route.endpoint {
        case .start:
            return start(&state, stream: route.stream, query: query)
        case .updated, .deleted:
            return drain(&state, stream: route.stream, endpoint: route.endpoint, query: query)
        }
    }

    private static func start(_ state: inout State, stream: Stream, query: [String: String]) -> Answer {
        if let days = query["daysWithin"], (Int(days) ?? 0) <= 0 {
            return Answer(status: 400, body: error("badRequest", "daysWithin must be a positive integer"))
        }
        for name in ["timeMin", "timeMax"] {
            if let time = query[name], !RFC3339.isValid(time) {
                return Answer(status: 400, body: error("badRequest", "\(name) must be an ISO 8601 date-time"))
            }
        }
        if state.notReadyStarts > 0 {
            state.notReadyStarts -= 1
            return Answer(status: 200, body: #"{"syncUpdatedToken":null,"syncDeletedToken":null,"ready":false}"#)
        }
        let epoch = state.streams[stream, default: StreamState()].epoch
        let updated = state.newToken("du")
        state.deltaTokens[updated] = DeltaToken(stream: stream, endpoint: .updated, epoch: epoch, position: 0)
        let deleted = state.newToken("dd")
        state.deltaTokens[deleted] = DeltaToken(stream: stream, endpoint: .deleted, epoch: epoch, position: state.head)
        return Answer(
            status: 200,
            body: "{\"syncUpdatedToken\":\(quoted(updated)),\"syncDeletedToken\":\(quoted(deleted)),\"ready\":true}"
        )
    }

    private static func drain(_ state: inout State, stream: Stream, endpoint: Endpoint, query: [String: String]) -> Answer {
        let epoch = state.streams[stream, default: StreamState()].epoch
        switch (query["deltaToken"], query["pageToken"]) {
        case (let delta?, nil):
            if state.pageTokens[delta] != nil {
                return Answer(status: 400, body: error("badRequest", "a pageToken was sent as deltaToken"))
            }
            guard let token = state.deltaTokens[delta], token.stream == stream, token.endpoint == endpoint else {
                return Answer(status: 400, body: error("badRequest", "unknown deltaToken"))
            }
            guard token.epoch == epoch, !state.expired.contains(delta) else {
                return Answer(status: 410, body: error("tokenExpired", "the delta token is no longer valid; start a new sync"))
            }
            let streamState = state.streams[stream, default: StreamState()]
            let changes: [(id: String, seq: Int)] =
                endpoint == .updated
                ? streamState.records.map { ($0.key, $0.value.seq) } : streamState.deletions.map { ($0.key, $0.value) }
            let ids = changes.filter { $0.seq > token.position }.sorted { ($0.seq, $0.id) < ($1.seq, $1.id) }.map(\.id)
            return page(&state, stream: stream, endpoint: endpoint, epoch: epoch, ids: ids, upTo: state.head)
        case (nil, let pageToken?):
            if state.deltaTokens[pageToken] != nil {
                return Answer(status: 400, body: error("badRequest", "a deltaToken was sent as pageToken"))
            }
            guard let token = state.pageTokens[pageToken], token.stream == stream, token.endpoint == endpoint else {
                return Answer(status: 400, body: error("badRequest", "unknown pageToken"))
            }
            guard token.epoch == epoch, !state.expired.contains(pageToken) else {
                return Answer(status: 410, body: error("tokenExpired", "the page token is no longer valid; start a new sync"))
            }
            return page(&state, stream: stream, endpoint: endpoint, epoch: epoch, ids: token.ids, upTo: token.upTo)
        default:
            return Answer(status: 400, body: error("badRequest", "send exactly one of deltaToken and pageToken"))
        }
    }

    /// The page of the first ``pageSize`` of `ids`, as they are now: records changed or ids
    /// deleted since no longer listed.
    private static func page(
        _ state: inout State,
        stream: Stream,
        endpoint: Endpoint,
        epoch: Int,
        ids: [String],
        upTo: Int
    ) -> Answer {
        let streamState = state.streams[stream, default: StreamState()]
        let taken = ids.prefix(state.pageSize)
        let rest = Array(ids.dropFirst(state.pageSize))
        var items: [String] = []
        for id in taken {
            if endpoint == .updated {
                if let record = streamState.records[id] { items.append(record.json) }
            } else if streamState.deletions[id] != nil {
                items.append(state.deletedAsStrings ? quoted(id) : "{\"id\":\(quoted(id))}")
            }
        }
        let next: String
        if rest.isEmpty {
            let token = state.newToken(endpoint == .updated ? "du" : "dd")
            state.deltaTokens[token] = DeltaToken(stream: stream, endpoint: endpoint, epoch: epoch, position: upTo)
            next = "\"nextDeltaToken\":\(quoted(token))"
        } else {
            let token = state.newToken(endpoint == .updated ? "pu" : "pd")
            state.pageTokens[token] = PageToken(stream: stream, endpoint: endpoint, epoch: epoch, ids: rest, upTo: upTo)
            next = "\"nextPageToken\":\(quoted(token))"
        }
        return Answer(status: 200, body: "{\"records\":[\(items.joined(separator: ","))],\(next)}")
    }

    private static func error(_ code: String, _ message: String) -> String {
        "{\"code\":\(quoted(code)),\"message\":\(quoted(message))}"
    }

    /// `text` as a JSON string.
    private static func quoted(_ text: String) -> String {
        String(decoding: JSONValue.string(text).serialized(), as: UTF8.self)
    }
}
