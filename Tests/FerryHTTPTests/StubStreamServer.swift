import FerryCore
import FerryTestSupport
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A small Hummingbird server on 127.0.0.1 that answers the stream routes as a test scripts
/// them, and records what it receives. The real routes live in FerryServer; this one lets
/// the client be tested on its own.
final class StubStreamServer: Sendable {
    /// One request received.
    struct Received: Sendable {
        var method: String
        var path: String
        var query: String
        var authorization: String?
        var accept: String?
        var body: String
    }

    /// What `POST /sync/stream` writes: called with the body writer.
    typealias StreamBody = @Sendable (inout any ResponseBodyWriter) async throws -> Void

    private struct State {
        var received: [Received] = []
        var acceptedToken = "good"
        var refreshes = 0
        var streamEnded: [String] = []
        var watches: [(condition: @Sendable (State) -> Bool, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())
    let streamBody: StreamBody
    /// Whether `POST /sync/ack` answers `400` instead of `204`.
    let refusesAcks: Bool

    init(refusesAcks: Bool = false, streamBody: @escaping StreamBody) {
        self.refusesAcks = refusesAcks
        self.streamBody = streamBody
    }

    var received: [Received] { state.withLock { $0.received } }
    var refreshes: Int { state.withLock { $0.refreshes } }
    /// How each stream's body writer ended: `finished`, or `failed: …` when the client went away.
    var streamEnded: [String] { state.withLock { $0.streamEnded } }

    /// The ack lists received, in order.
    var ackRequests: [[String]] {
        received.filter { $0.method == "POST" && $0.path == "/sync/ack" }.map { request in
            let object = try? JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any]
            return object?["acks"] as? [String] ?? []
        }
    }

    func waitUntilAStreamEnded() async {
        await waitUntil { !$0.streamEnded.isEmpty }
    }

    private func waitUntil(_ condition: @escaping @Sendable (State) -> Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if condition(state) { return true }
                state.watches.append((condition, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    private func update(_ change: (inout State) -> Void) {
        let ready: [CheckedContinuation<Void, Never>] = state.withLock { state in
            change(&state)
            var ready: [CheckedContinuation<Void, Never>] = []
            let snapshot = state
            state.watches.removeAll { watch in
                guard watch.condition(snapshot) else { return false }
                ready.append(watch.continuation)
                return true
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    private func record(_ request: Request, body: ByteBuffer?) -> Bool {
        let entry = Received(
            method: request.method.rawValue,
            path: request.uri.path,
            query: request.uri.query ?? "",
            authorization: request.headers[.authorization],
            accept: request.headers[.accept],
            body: body.map { String(buffer: $0) } ?? ""
        )
        return state.withLock { state in
            state.received.append(entry)
            return entry.authorization == "Bearer \(state.acceptedToken)"
        }
    }

    private static func error(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        let body = #"{"error":{"code":"\#(code)","message":"\#(message)"}}"#
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/auth/refresh") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            _ = self.record(request, body: body)
            self.update { state in
                state.refreshes += 1
                state.acceptedToken = "fresh\(state.refreshes)"
            }
            let token = self.state.withLock { $0.acceptedToken }
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            let answer = #"{"access_token":"\#(token)","refresh_token":"r\#(token)","expires_in":60}"#
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: answer)))
        }
        router.post("/sync/stream") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            guard self.record(request, body: body) else { return Self.error(.unauthorized, "unauthorized", "token expired") }
            if String(buffer: body).contains(#""space":"other""#) {
                return Self.error(.forbidden, "forbidden", "space outside the token's scope")
            }
            var headers = HTTPFields()
            headers[.contentType] = "application/x-ndjson"
            let write = self.streamBody
            return Response(
                status: .ok,
                headers: headers,
                body: ResponseBody { writer in
                    do {
                        try await write(&writer)
                        try await writer.finish(nil)
                        self.update { $0.streamEnded.append("finished") }
                    } catch {
                        self.update { $0.streamEnded.append("failed: \(error)") }
                        throw error
                    }
                }
            )
        }
        router.post("/sync/ack") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            guard self.record(request, body: body) else { return Self.error(.unauthorized, "unauthorized", "token expired") }
            if self.refusesAcks { return Self.error(.badRequest, "bad_request", "ack x is not valid") }
            return Response(status: .noContent)
        }
        router.get("/sync/ack") { request, _ -> Response in
            guard self.record(request, body: nil) else { return Self.error(.unauthorized, "unauthorized", "token expired") }
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(
                status: .ok,
                headers: headers,
                body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"acks":["note|3","SyncComplete|5"],"extra":1}"#))
            )
        }
        router.delete("/sync/ack") { request, _ -> Response in
            guard self.record(request, body: nil) else { return Self.error(.unauthorized, "unauthorized", "token expired") }
            return Response(status: .noContent)
        }
        return router
    }

    /// Runs `body` with the server listening on a free port of 127.0.0.1, given its base URL.
    func run<T: Sendable>(_ body: (String) async throws -> T) async throws -> T {
        try await runStubServer(router(), label: "stub-stream-server", body)
    }
}

extension ByteBuffer {
    /// NDJSON lines, each followed by a newline.
    init(lines: [String]) {
        self.init(string: lines.map { $0 + "\n" }.joined())
    }
}
