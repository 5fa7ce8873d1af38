import FerryCore
import Foundation
import Hummingbird
import NIOFoundationCompat
import ServiceLifecycle

/// The routes of `/sync/mutations` and `/auth`: push, pull with long-poll, refresh.
struct SyncController {
    let eventLog: any EventLog
    let tokens: any TokenStore
    let metrics: ServerMetrics
    let configuration: ServerConfiguration

    func addSyncRoutes(to group: RouterGroup<FerryRequestContext>) {
        group.post("mutations/push", use: push)
        group.get("mutations/pull", use: pull)
    }

    func addAuthRoutes(to router: Router<FerryRequestContext>) {
        router.post("auth/refresh", use: refresh)
    }

    @Sendable func push(request: Request, context: FerryRequestContext) async throws -> Response {
        let push = try PushEnvelope(jsonBytes: try await collectBody(of: request).readableBytesView)
        let validator = PushValidator(configuration: configuration)
        try validator.checkEnvelope(push)
        try context.authorize(space: push.space)
        let checked = try validator.checkMutations(push.mutations)

        let result = try await eventLog.append(
            AppendBatch(
                space: push.space,
                deviceID: push.deviceID,
                sessionID: push.sessionID,
                mutations: checked.valid.map { push.mutations[$0] }
            )
        )

        // Merge the store's outcomes and the validator's rejections back into request order.
        var outcomes = [MutationRejection?](repeating: nil, count: push.mutations.count)
        var stored = [Int64?](repeating: nil, count: push.mutations.count)
        for (index, rejection) in checked.invalid { outcomes[index] = rejection }
        var duplicates = 0
        for (index, outcome) in zip(checked.valid, result.outcomes) {
            switch outcome {
            case .stored(let seq):
                stored[index] = seq
            case .duplicate(let seq):
                duplicates += 1
                outcomes[index] = MutationRejection(clientActionID: push.mutations[index].clientActionID, reason: .duplicate, seq: seq)
            }
        }
        var acks: [MutationAck] = []
        acks.reserveCapacity(push.mutations.count)
        var rejected: [MutationRejection] = []
        for index in push.mutations.indices {
            if let seq = stored[index] {
                acks.append(MutationAck(clientActionID: push.mutations[index].clientActionID, seq: seq))
            } else if let rejection = outcomes[index] {
                rejected.append(rejection)
            }
        }
        metrics.recordPush(
            accepted: acks.count,
            duplicates: duplicates,
            rejected: checked.invalid.count,
            conflicts: result.conflicts.count
        )
        return JSONResponse.writing(
            PushResponse(
                accepted: acks.count,
                acks: acks,
                rejected: rejected,
                conflicts: result.conflicts,
                headSeq: result.headSeq,
                logID: result.logID
            )
        )
    }

    @Sendable func pull(request: Request, context: FerryRequestContext) async throws -> Response {
        let query = try PullQuery(request.uri.queryParameters, configuration: configuration)
        try context.authorize(space: query.space)
        var page = try await eventLog.read(
            space: query.space,
            since: query.since,
            limit: query.limit,
            excludingDevice: query.excludeDevice
        )
        if page.mutations.isEmpty, let wait = query.wait, wait > .zero {
            page = try await longPoll(first: page, query: query, wait: wait, clock: configuration.clock)
        }
        return JSONResponse.make(json: page.pullResponseJSON())
    }

    /// Holds a pull until a mutation this client may see is committed, or `wait` passes.
    /// Each round sleeps until the head moves; nothing polls the store.
    private func longPoll(
        first: LogPage,
        query: PullQuery,
        wait: Duration,
        clock: some Clock<Duration>
    ) async throws
        -> LogPage
    {
        let deadline = clock.now.advanced(by: wait)
        var page = first
        try await withGracefulShutdownHandler {
            while page.mutations.isEmpty {
                let remaining = clock.now.duration(to: deadline)
                guard remaining > .zero,
                    await eventLog.waitForAppend(space: query.space, above: page.latestSeq, timeout: remaining)
                else { return }
                page = try await eventLog.read(
                    space: query.space,
                    since: query.since,
                    limit: query.limit,
                    excludingDevice: query.excludeDevice
                )
            }
        } onGracefulShutdown: {
            eventLog.shutdownWaiters()
        }
        return page
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
        if let length = request.headers[.contentLength].flatMap(Int.init), length > configuration.maxBodyBytes {
            throw FerryError(.payloadTooLarge, "the request body is \(length) bytes; at most \(configuration.maxBodyBytes) are accepted")
        }
        let buffer = try await request.body.collect(upTo: configuration.maxBodyBytes)
        guard buffer.readableBytes > 0 else { throw FerryError(.badRequest, "the request body is empty") }
        return buffer
    }

    /// Reads the body up to the limit (`413` beyond it) and decodes it (`400` when it is not
    /// the expected JSON).
    private func decodeBody<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        try JSONDecoder().decode(T.self, from: try await collectBody(of: request))
    }
}

/// The query of a pull, checked.
struct PullQuery {
    var space: String
    var since: Int64
    var limit: Int
    var excludeDevice: String?
    var wait: Duration?

    init(_ parameters: Parameters, configuration: ServerConfiguration) throws {
        guard let space = parameters["space"].map(String.init) else { throw FerryError(.badRequest, "space is required") }
        guard ProtocolRules.isValidSpace(space) else {
            throw FerryError(.badRequest, "space must match ^[a-z0-9][a-z0-9._-]{0,63}$")
        }
        self.space = space
        guard let sinceText = parameters["since_seq"] else { throw FerryError(.badRequest, "since_seq is required") }
        guard let since = Int64(sinceText), since >= 0 else {
            throw FerryError(.badRequest, "since_seq must be an integer ≥ 0")
        }
        self.since = since
        if let limitText = parameters["limit"] {
            if let limit = Int(limitText), limit >= 1 {
                self.limit = min(limit, configuration.maxPullLimit)
            } else if !limitText.isEmpty, limitText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                limitText.contains(where: { $0 != "0" })
            {
                // Too large for an integer, but a valid count: treated as the maximum.
                self.limit = configuration.maxPullLimit
            } else {
                throw FerryError(.badRequest, "limit must be an integer ≥ 1")
            }
        } else {
            self.limit = min(configuration.defaultPullLimit, configuration.maxPullLimit)
        }
        if let device = parameters["exclude_device"].map(String.init) {
            guard ProtocolRules.isValidClientID(device) else {
                throw FerryError(.badRequest, "exclude_device must be 1 to 128 printable ASCII characters")
            }
            self.excludeDevice = device
        }
        if let waitText = parameters["wait"] {
            guard let seconds = Double(waitText), seconds.isFinite, seconds >= 0,
                seconds <= Double(configuration.maxWaitSeconds)
            else {
                throw FerryError(.badRequest, "wait must be a number of seconds from 0 to \(configuration.maxWaitSeconds)")
            }
            self.wait = .milliseconds(Int64((seconds * 1000).rounded()))
        }
    }
}
