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

    func addSyncRoutes(to group: RouterGroup<FerryRequestContext>) {
        group.post("mutations/push", use: push)
        group.get("mutations/pull", use: pull)
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
        return JSONResponse.writing(outcome.response)
    }

    @Sendable func pull(request: Request, context: FerryRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        let query = try PullQuery(parameter: { parameters[Substring($0)] }, configuration: endpoints.configuration)
        try context.authorize(space: query.space)
        return JSONResponse.make(json: try await endpoints.pull(query).pullResponseJSON())
    }

    @Sendable func refresh(request: Request, context: FerryRequestContext) async throws -> Response {
        let body = try await decodeBody(RefreshRequest.self, from: request)
        guard let issued = try await tokens.refresh(refreshToken: body.refreshToken) else {
            throw FerryError(.unauthorized, "the refresh token is unknown, already used or revoked")
        }
        return try JSONResponse.make(
            TokenPair(accessToken: issued.accessToken, refreshToken: issued.refreshToken, expiresIn: issued.expiresIn)
        )
    }

    /// Reads the body up to the limit (`413` beyond it); an empty body is a `400`.
    private func collectBody(of request: Request) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > endpoints.configuration.maxBodyBytes {
            throw FerryError(
                .payloadTooLarge,
                "the request body is \(length) bytes; at most \(endpoints.configuration.maxBodyBytes) are accepted"
            )
        }
        let buffer = try await request.body.collect(upTo: endpoints.configuration.maxBodyBytes)
        guard buffer.readableBytes > 0 else { throw FerryError(.badRequest, "the request body is empty") }
        return buffer
    }

    /// Reads the body up to the limit (`413` beyond it) and decodes it (`400` when it is not
    /// the expected JSON).
    private func decodeBody<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        try JSONDecoder().decode(T.self, from: try await collectBody(of: request))
    }
}
