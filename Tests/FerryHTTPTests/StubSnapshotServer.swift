import FerryCore
import FerryTestSupport
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A small Hummingbird server on 127.0.0.1 that answers the snapshot routes (`GET
/// /sync/pull`, `GET /sync/pull/{id}`, `POST /sync/push`) and a pruned pull (`410`) as a
/// test scripts them, and records what it receives.
final class StubSnapshotServer: Sendable {
    /// One request received.
    struct Received: Sendable {
        var method: String
        var path: String
        var query: String
        var accept: String?
        var contentType: String?
        var chunkID: String?
        var body: [UInt8]
    }

    let manifest: String
    let chunks: [String: [UInt8]]
    let pushAnswer: String
    private let requests = Mutex<[Received]>([])

    /// A server that answers `manifest` (JSON text), the bodies of `chunks` by id, and
    /// `pushAnswer` to every bulk push.
    init(manifest: String, chunks: [String: [UInt8]], pushAnswer: String) {
        self.manifest = manifest
        self.chunks = chunks
        self.pushAnswer = pushAnswer
    }

    var received: [Received] { requests.withLock { $0 } }

    private func record(_ request: Request, body: ByteBuffer?) {
        let entry = Received(
            method: request.method.rawValue,
            path: request.uri.path,
            query: request.uri.query ?? "",
            accept: request.headers[.accept],
            contentType: request.headers[.contentType],
            chunkID: request.headers.first { $0.name.canonicalName == "x-chunk-id" }?.value,
            body: body.map { Array($0.readableBytesView) } ?? []
        )
        requests.withLock { $0.append(entry) }
    }

    private static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/sync/pull") { request, _ -> Response in
            self.record(request, body: nil)
            return Self.json(.ok, self.manifest)
        }
        router.get("/sync/pull/:id") { request, context -> Response in
            self.record(request, body: nil)
            guard let id = context.parameters.get("id"), let body = self.chunks[id] else {
                return Self.json(.notFound, #"{"error":{"code":"not_found","message":"no such chunk"}}"#)
            }
            var headers = HTTPFields()
            headers[.contentType] = "application/x-ndjson"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.post("/sync/push") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 64 << 20)
            self.record(request, body: body)
            return Self.json(.ok, self.pushAnswer)
        }
        router.get("/sync/mutations/pull") { request, _ -> Response in
            self.record(request, body: nil)
            return Self.json(
                .gone,
                #"{"error":{"code":"history_pruned","message":"since_seq 0 is below the floor"},"floor_seq":42}"#
            )
        }
        return router
    }

    /// Runs `body` with the server listening on a free port of 127.0.0.1, given its base URL.
    func run<T: Sendable>(_ body: (String) async throws -> T) async throws -> T {
        try await runStubServer(router(), label: "stub-snapshot-server", body)
    }
}
