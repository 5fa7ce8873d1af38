import FerryCore
import FerryLog
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOWebSocket
import ServiceLifecycle
import Synchronization
@_spi(WSInternal) import WSCore

/// A place of the long-poll limits held by a live channel; given back once, by
/// ``release()`` or when the lease is dropped (an upgrade that never ran its handler).
final class LiveLease: Sendable {
    private let limiter: LongPollLimiter
    private let grant: String
    private let released = Mutex(false)

    init(limiter: LongPollLimiter, grant: String) {
        self.limiter = limiter
        self.grant = grant
    }

    /// Gives the place back; later calls do nothing.
    func release() {
        let first = released.withLock { released in
            defer { released = true }
            return !released
        }
        if first { limiter.release(grant: grant) }
    }

    deinit { release() }
}

/// What a live channel's upgrade was admitted with: the checked query, its first page, the
/// access token to check again, and its place in the limits.
struct LiveAdmission: Sendable {
    var query: PullQuery
    var first: LogPage
    var token: String
    var lease: LiveLease
}

/// Set by ``LiveChannel/trigger()`` on the server's graceful shutdown.
final class LiveShutdown: Sendable {
    private let triggered = Mutex(false)
    var isTriggered: Bool { triggered.withLock { $0 } }
    func trigger() { triggered.withLock { $0 = true } }
}

/// The live channel, `GET /sync/mutations/live`: the WebSocket that sends a device each page
/// of its space as it is committed (docs/protocol.md, "The live channel").
///
/// An upgrade request is admitted here before the upgrade, without a word on the wire:
/// token, query, space, the first read (which finds `cursor_ahead` or `history_pruned`), and a
/// place in the long-poll limits. A request that fails any of them is not upgraded and goes to
/// the router's route of the same path (``answerRefusal(request:context:)``), which does the
/// same checks behind ``AuthMiddleware`` and answers the error as any route does.
struct LiveChannel: Sendable {
    let endpoints: SyncEndpoints
    let tokens: any TokenStore
    let jwt: JWTAuthenticator?
    let metrics: ServerMetrics
    let longPolls: LongPollLimiter

    /// The close code of a protocol error after the upgrade: 4000 plus its HTTP status
    /// (4401 token expired or revoked, 4410 history pruned, 4503 storage unavailable, 4500
    /// any other server failure).
    static func closeCode(for error: FerryError) -> Int { 4000 + error.code.httpStatus }

    /// The close reason of `error`: its error body when it fits in a close frame's 123 bytes.
    static func closeReason(for error: FerryError) -> String? {
        var body = ErrorResponse(error)
        body.floorSeq = nil
        guard let data = try? JSONEncoder().encode(body), data.count <= 123 else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    // MARK: Admission

    /// Admits an upgrade request, or answers `nil` (the request then goes to the router).
    func admit(_ request: Request) async -> LiveAdmission? {
        guard let token = Self.bearer(of: request), let scope = await authenticate(token), !scope.isAdmin else { return nil }
        // Over the query limit: the router's QueryLimitMiddleware answers it.
        if let text = request.uri.query, text.utf8.count > endpoints.configuration.maxQueryBytes { return nil }
        let parameters = request.uri.queryParameters
        guard let query = try? Self.query(parameters, configuration: endpoints.configuration), scope.allows(query.space) else {
            return nil
        }
        guard let first = try? await endpoints.liveFirstPage(query) else { return nil }
        guard longPolls.acquire(grant: scope.grantID) == nil else { return nil }
        return LiveAdmission(query: query, first: first, token: token, lease: LiveLease(limiter: longPolls, grant: scope.grantID))
    }

    /// The route's answer to a request that was not upgraded: the error of the first check it
    /// fails, as the pull answers it (`400`, `401`, `403`, `409 cursor_ahead`, `410`, `429`
    /// with `Retry-After`), or `400` when every check passes (the request asked no upgrade).
    @Sendable func answerRefusal(request: Request, context: FerryRequestContext) async throws -> Response {
        let query = try Self.query(request.uri.queryParameters, configuration: endpoints.configuration)
        try context.authorize(space: query.space)
        _ = try await endpoints.liveFirstPage(query)
        if let grant = context.scope?.grantID {
            if let refusal = longPolls.acquire(grant: grant) {
                return try refusal.response(configuration: endpoints.configuration, metrics: metrics, request: request, context: context)
            }
            longPolls.release(grant: grant)
        }
        throw FerryError(.badRequest, "GET /sync/mutations/live is a WebSocket: send Upgrade: websocket")
    }

    private static func query(_ parameters: Parameters, configuration: ServerConfiguration) throws -> PullQuery {
        var query = try PullQuery(parameter: { parameters[Substring($0)] }, configuration: configuration)
        query.wait = nil
        return query
    }

    private static func bearer(of request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }

    /// The scope of `token` now; `nil` when it is unknown, expired or revoked (or the store fails).
    private func authenticate(_ token: String) async -> TokenScope? {
        if let jwt, JWTAuthenticator.looksLikeJWT(token) {
            if case .success(let scope) = await jwt.verify(token) { return scope }
            return nil
        }
        return try? await tokens.authenticate(accessToken: token)
    }

    // MARK: The channel

    /// Why the channel closes.
    private enum Ending: Sendable {
        case loop(SyncEndpoints.LiveEnd)
        case peerClosed
        case peerSentData
        case tokenRefused
    }

    /// Serves an upgraded channel until it closes; the lease is given back at the end.
    func serve(
        _ admission: LiveAdmission,
        inbound: WebSocketInboundStream,
        outbound: WebSocketOutboundWriter,
        shutdown: LiveShutdown
    ) async throws {
        metrics.liveChanged(by: 1)
        defer {
            metrics.liveChanged(by: -1)
            admission.lease.release()
        }
        let endpoints = endpoints
        let recheck = endpoints.configuration.liveTokenRecheck
        let clock = endpoints.configuration.clock
        do {
            try await outbound.write(.custom(Self.frame(admission.first)))
            let ending = try await withThrowingTaskGroup(of: Ending.self) { group in
                group.addTask {
                    let end = try await endpoints.live(admission.query, after: admission.first, stopped: { shutdown.isTriggered }) { page in
                        try await outbound.write(.custom(Self.frame(page)))
                    }
                    return .loop(end)
                }
                group.addTask {
                    // The client has nothing to say: a data frame is a policy violation.
                    for try await _ in inbound { return .peerSentData }
                    return .peerClosed
                }
                group.addTask {
                    while true {
                        try await clock.sleep(for: recheck)
                        if await authenticate(admission.token) == nil { return .tokenRefused }
                    }
                }
                defer { group.cancelAll() }
                return try await group.next() ?? .peerClosed
            }
            switch ending {
            case .loop(.shutdown), .loop(.cancelled):
                try await outbound.close(.goingAway, reason: #"{"error":{"code":"unavailable","message":"the server is shutting down"}}"#)
            case .peerClosed:
                break
            case .peerSentData:
                try await outbound.close(.policyViolation, reason: "the live channel takes no data frames")
            case .tokenRefused:
                let error = FerryError(.unauthorized, "the token expired or was revoked")
                try await outbound.close(.unknown(UInt16(Self.closeCode(for: error))), reason: Self.closeReason(for: error))
            }
        } catch let error as FerryError {
            try? await outbound.close(.unknown(UInt16(Self.closeCode(for: error))), reason: Self.closeReason(for: error))
        } catch is CancellationError {
            try? await outbound.close(.goingAway, reason: nil)
        } catch {
            // A failure that is not the protocol's (the connection itself, or the store's
            // driver): 4500, as the pull would answer 500.
            let failure = FerryError(.internal, "the server failed")
            try? await outbound.close(.unknown(UInt16(Self.closeCode(for: failure))), reason: Self.closeReason(for: failure))
        }
    }

    /// A text frame holding `page` as the pull answers it.
    static func frame(_ page: LogPage) -> WebSocketFrame {
        WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: page.pullResponseJSON()))
    }
}

/// The context of a live channel's WebSocket handler.
struct LiveWebSocketContext: WebSocketContext {
    let logger: Logger
}
