import FerryCore
import NIOCore
import NIOHTTP1

extension HTTPTransport {
    /// Reads the newest snapshot manifest of `space` with `GET /sync/pull?space=`.
    ///
    /// - Throws: ``FerryCore/SyncTransportError`` (`permanent` with status `404` from a server
    ///   without snapshots), `CancellationError`.
    public func manifest(space: String) async throws -> SnapshotManifest {
        let target = "/sync/pull?space=\(Self.percentEncode(space))"
        let answer = try await session.authorized(.GET, target, body: nil, timeout: requestTimeout, route: "manifest")
        return try Self.read(SnapshotManifest.self, from: answer, route: "manifest")
    }

    /// Downloads the body of snapshot chunk `id` with `GET /sync/pull/{id}`, as received:
    /// the caller checks that its SHA-256 is `id`. The request's timeout bounds the wait for
    /// the answer's head and every pause in its body; the body as a whole may take longer.
    ///
    /// - Throws: ``FerryCore/SyncTransportError`` (`permanent` without a request when `id` is
    ///   not 64 hex digits; `permanent` with status `404` for a chunk the server does not
    ///   name), `CancellationError`.
    public func chunk(id: String) async throws -> [UInt8] {
        guard SnapshotManifest.isChunkID(id) else {
            throw SyncTransportError(.permanent, "chunk: '\(id.prefix(80))' is not a chunk id (64 hex digits)")
        }
        let answer = try await session.authorized(
            .GET,
            "/sync/pull/\(id.lowercased())",
            body: nil,
            timeout: requestTimeout,
            route: "chunk",
            accept: "application/x-ndjson"
        )
        return Array(answer.body.readableBytesView)
    }

    /// Uploads a bulk chunk with `POST /sync/push?space=&device_id=&session_id=`, the body
    /// as `application/x-ndjson` and its id in `X-Chunk-Id`; answers the server's outcome for
    /// each of its mutations, as a push. Since the server stores a chunk's mutations before it
    /// answers, the wait for the answer is four times
    /// ``HTTPTransportConfiguration/requestTimeout``.
    ///
    /// - Throws: ``FerryCore/SyncTransportError`` (`permanent` with status `404` from a server
    ///   without bulk upload, `400` when the body does not match its id or a line is not a
    ///   JSON object, `413` above the server's chunk limits), `CancellationError`.
    public func bulkPush(_ request: BulkPushRequest) async throws -> PushResponse {
        let target =
            "/sync/push?space=\(Self.percentEncode(request.space))&device_id=\(Self.percentEncode(request.deviceID))"
            + "&session_id=\(Self.percentEncode(request.sessionID))"
        let answer = try await session.authorizedUpload(
            .POST,
            target,
            body: ByteBuffer(bytes: request.body),
            timeout: requestTimeout * 4,
            route: "bulk push",
            contentType: "application/x-ndjson",
            headers: [(name: "X-Chunk-Id", value: request.chunkID)]
        )
        return try Self.read(PushResponse.self, from: answer, route: "bulk push")
    }
}
