import FerryCore
import FerryLog
import Foundation
import Hummingbird
import NIOFoundationCompat

/// The routes of `/sync/mutations` and `/auth`: push, pull with long-poll, refresh.
struct SyncController {
    let endpoints: SyncEndpoints
    let tokens: any TokenStore
    let metrics: ServerMetrics
    /// The long-polls held, bounded per grant and in total.
    let longPolls: LongPollLimiter
    /// Where pushes and pulls are recorded for the operator console.
    let activity: ServerActivity
    /// The gzip coding of answers and request bodies.
    let coding: ContentCoding

    func addSyncRoutes(to group: RouterGroup<FerryRequestContext>) {
        group.post("mutations/push", use: push)
        group.get("mutations/pull", use: pull)
        group.post("stream", use: stream)
        group.post("ack", use: acknowledge)
        group.get("ack", use: checkpoints)
        group.delete("ack", use: clearCheckpoints)
        group.get("pull", use: manifest)
        group.get("pull/:chunk", use: chunk)
        group.post("push", use: bulkPush)
    }

    func addAuthRoutes(to router: Router<FerryRequestContext>) {
        router.post("auth/refresh", use: refresh)
    }

    @Sendable func push(request: Request, context: FerryRequestContext) async throws -> Response {
        let envelope = try PushEnvelope(jsonBytes: try await collectBody(of: request).readableBytesView)
        let outcome = try await endpoints.push(envelope) { try context.authorize(space: $0) }
        metrics.recordPush(
            accepted: outcome.response.accepted,
            duplicates: outcome.duplicates,
            rejected: outcome.invalid,
            conflicts: outcome.response.conflicts.count
        )
        activity.recordPush(space: envelope.space, deviceID: envelope.deviceID, response: outcome.response)
        return coding.json(outcome.response.jsonBytes(), for: request)
    }

    /// Records the pull of the device the query names (by `exclude_device`) and answers its page.
    /// The page is gzip-compressed when the request accepts it (``ContentCoding``).
    private func answer(_ page: LogPage, to query: PullQuery, request: Request) -> Response {
        if let device = query.excludeDevice {
            activity.recordPull(space: query.space, deviceID: device, cursor: page.latestSeq)
        }
        return coding.json(page.pullResponseJSON(), for: request)
    }

    @Sendable func pull(request: Request, context: FerryRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        var query = try PullQuery(parameter: { parameters[Substring($0)] }, configuration: endpoints.configuration)
        try context.authorize(space: query.space)
        guard let wait = query.wait, wait > .zero, let grant = context.scope?.grantID else {
            return answer(try await endpoints.pull(query), to: query, request: request)
        }
        if let refusal = longPolls.acquire(grant: grant) {
            // Over a limit: never held. What is there is answered; with nothing new, the
            // client is told when to ask again rather than to come back at once.
            query.wait = nil
            let page = try await endpoints.pull(query)
            guard page.mutations.isEmpty, page.latestSeq == query.since else {
                return answer(page, to: query, request: request)
            }
            return try refusal.response(configuration: endpoints.configuration, metrics: metrics, request: request, context: context)
        }
        defer { longPolls.release(grant: grant) }
        return answer(try await endpoints.pull(query), to: query, request: request)
    }

    /// `POST /sync/stream`: checks and authorizes before the head is sent, then writes the
    /// stream's pages as the store yields them. A write to a connection the client closed
    /// throws, which ends the reading. To a request that accepts gzip, the pages are one gzip
    /// stream flushed after each page: still streamed, each line readable when it is written.
    @Sendable func stream(request: Request, context: FerryRequestContext) async throws -> Response {
        let body = try StreamRequest(jsonBytes: try await collectBody(of: request).readableBytesView)
        let lines = try await endpoints.openStream(body) { try context.authorize(space: $0) }
        let metrics = metrics
        var headers = HTTPFields()
        headers[.contentType] = "application/x-ndjson"
        headers[.cacheControl] = "no-store"
        if coding.enabled { headers[.vary] = "Accept-Encoding" }
        let compressed = coding.compresses(for: request)
        if compressed { headers[.contentEncoding] = "gzip" }
        return Response(
            status: .ok,
            headers: headers,
            body: ResponseBody { writer in
                metrics.streamOpened()
                defer { metrics.streamClosed() }
                let encoder: GzipStreamEncoder? = try compressed ? GzipStreamEncoder() : nil
                try await lines.forEachPage { page in
                    try await writer.write(try encoder?.part(page.bytes) ?? ByteBuffer(bytes: page.bytes))
                    metrics.recordStreamed(events: page.events)
                }
                if let encoder { try await writer.write(try encoder.finish()) }
                try await writer.finish(nil)
            }
        )
    }

    /// `POST /sync/ack`: `204` once every ack is stored.
    @Sendable func acknowledge(request: Request, context: FerryRequestContext) async throws -> Response {
        let body = try AckRequest(jsonBytes: try await collectBody(of: request).readableBytesView)
        let stored = try await endpoints.acknowledge(body) { try context.authorize(space: $0) }
        metrics.recordAcks(stored)
        return Response(status: .noContent)
    }

    /// `GET /sync/ack`: `{"acks": [...]}`, the device's checkpoints.
    @Sendable func checkpoints(request: Request, context: FerryRequestContext) async throws -> Response {
        let (space, device) = try Self.spaceAndDevice(of: request)
        let acks = try await endpoints.checkpoints(space: space, deviceID: device) { try context.authorize(space: $0) }
        var writer = JSONWriter(capacity: 32 + acks.count * 24)
        writer.raw(#"{"acks":["#.utf8)
        for (index, ack) in acks.enumerated() {
            if index > 0 { writer.byte(UInt8(ascii: ",")) }
            writer.string(ack.description)
        }
        writer.raw("]}".utf8)
        return JSONResponse.make(json: writer.bytes)
    }

    /// `DELETE /sync/ack`: clears the device's checkpoints, all or `types=a,b`; `204`.
    @Sendable func clearCheckpoints(request: Request, context: FerryRequestContext) async throws -> Response {
        let (space, device) = try Self.spaceAndDevice(of: request)
        let types = request.uri.queryParameters["types"].map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        try await endpoints.clearCheckpoints(space: space, deviceID: device, types: types) { try context.authorize(space: $0) }
        return Response(status: .noContent)
    }

    private static func spaceAndDevice(of request: Request) throws -> (space: String, device: String) {
        let parameters = request.uri.queryParameters
        guard let space = parameters["space"] else { throw FerryError(.badRequest, "space is required") }
        guard let device = parameters["device_id"] else { throw FerryError(.badRequest, "device_id is required") }
        return (String(space), String(device))
    }

    /// `GET /sync/pull?space=`: the newest snapshot manifest.
    @Sendable func manifest(request: Request, context: FerryRequestContext) async throws -> Response {
        guard let space = request.uri.queryParameters["space"] else { throw FerryError(.badRequest, "space is required") }
        let manifest = try await endpoints.manifest(space: String(space)) { try context.authorize(space: $0) }
        var response = JSONResponse.writing(manifest)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// `GET /sync/pull/{chunk_id}`: a chunk's NDJSON body, immutable (its id is its hash);
    /// `304` when the client holds it already (`If-None-Match`). Compressed for a request that
    /// accepts gzip; that representation's entity tag is `"<id>-gzip"`, and either tag
    /// matches in `If-None-Match` (both name the same content).
    @Sendable func chunk(request: Request, context: FerryRequestContext) async throws -> Response {
        let id = context.parameters.get("chunk") ?? ""
        let body = try await endpoints.chunk(id: id, scope: context.scope?.spaces ?? [])
        metrics.recordChunkServed(bytes: body.count)
        var headers = HTTPFields()
        let plainTag = "\"\(id.lowercased())\""
        let gzipTag = "\"\(id.lowercased())-gzip\""
        let compressed = coding.compresses(for: request) && body.count >= coding.minimumBytes
        let etag = compressed ? gzipTag : plainTag
        headers[.eTag] = etag
        headers[.cacheControl] = "private, max-age=31536000, immutable"
        if coding.enabled { headers[.vary] = "Accept-Encoding" }
        if let match = request.headers[.ifNoneMatch],
            match.split(separator: ",").contains(where: {
                let tag = $0.trimmingCharacters(in: .whitespaces)
                return tag == plainTag || tag == gzipTag
            })
        {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = "application/x-ndjson"
        if compressed {
            let encoded = ContentCoding.gzip(body)
            headers[.contentEncoding] = "gzip"
            headers[.contentLength] = String(encoded.readableBytes)
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: encoded))
        }
        headers[.contentLength] = String(body.count)
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// `POST /sync/push?space=&device_id=&session_id=` with `X-Chunk-Id`: a bulk chunk.
    @Sendable func bulkPush(request: Request, context: FerryRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        guard let space = parameters["space"] else { throw FerryError(.badRequest, "space is required") }
        guard let device = parameters["device_id"] else { throw FerryError(.badRequest, "device_id is required") }
        guard let session = parameters["session_id"] else { throw FerryError(.badRequest, "session_id is required") }
        let limit = endpoints.configuration.bulkMaxBytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw FerryError(.payloadTooLarge, "the chunk is \(length) bytes; at most \(limit) are accepted")
        }
        var buffer = try await coding.decodedBody(of: request, limit: limit)
        let body = buffer.readBytes(length: buffer.readableBytes) ?? []
        let outcome = try await endpoints.bulkPush(
            space: String(space),
            deviceID: String(device),
            sessionID: String(session),
            chunkID: request.headers[Self.chunkIDHeader],
            body: body
        ) { try context.authorize(space: $0) }
        metrics.recordPush(
            accepted: outcome.response.accepted,
            duplicates: outcome.duplicates,
            rejected: outcome.invalid,
            conflicts: outcome.response.conflicts.count
        )
        activity.recordPush(space: String(space), deviceID: String(device), response: outcome.response)
        return coding.json(outcome.response.jsonBytes(), for: request)
    }

    /// The header that names a bulk chunk by its SHA-256.
    static let chunkIDHeader = HTTPFields.Element.Name("X-Chunk-Id")!

    @Sendable func refresh(request: Request, context: FerryRequestContext) async throws -> Response {
        let body = try JSONDecoder().decode(RefreshRequest.self, from: try await collectBody(of: request, decoding: false))
        guard let issued = try await tokens.refresh(refreshToken: body.refreshToken) else {
            metrics.recordAuthFailure(reason: "refresh_invalid")
            AuthFailureLog.log(context.logger, reason: "refresh_invalid", request: request, context: context, token: body.refreshToken)
            throw FerryError(.unauthorized, "the refresh token is unknown, already used or revoked")
        }
        return try JSONResponse.make(
            TokenPair(accessToken: issued.accessToken, refreshToken: issued.refreshToken, expiresIn: issued.expiresIn)
        )
    }

    /// Reads the body up to the limit (`413` beyond it), decoded from its `Content-Encoding`
    /// when `decoding` (the `/sync` routes: ``ContentCoding/decodedBody(of:limit:)``); an empty
    /// body is a `400`.
    private func collectBody(of request: Request, decoding: Bool = true) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > endpoints.configuration.maxBodyBytes {
            throw FerryError(
                .payloadTooLarge,
                "the request body is \(length) bytes; at most \(endpoints.configuration.maxBodyBytes) are accepted"
            )
        }
        let limit = endpoints.configuration.maxBodyBytes
        let buffer = try await decoding ? coding.decodedBody(of: request, limit: limit) : request.body.collect(upTo: limit)
        guard buffer.readableBytes > 0 else { throw FerryError(.badRequest, "the request body is empty") }
        return buffer
    }
}
