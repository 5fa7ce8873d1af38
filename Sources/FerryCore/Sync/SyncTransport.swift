/// The client's seam to a Ferry server: push and pull as the protocol defines them.
///
/// `FerryHTTP.HTTPTransport` speaks HTTP; `FerryTestKit` has an in-memory one and a
/// fault-injecting wrapper. Implementations throw ``SyncTransportError`` so that callers
/// can tell what to do next from its ``SyncTransportError/Kind``.
public protocol SyncTransport: Sendable {
    /// Pushes a batch; answers the server's per-mutation outcome.
    func push(_ request: PushRequest) async throws -> PushResponse

    /// Pulls one page of `space` after `since`.
    /// - Parameters:
    ///   - limit: The page size; `nil` for the server's default.
    ///   - excludeDevice: Leave out this device's mutations (the cursor still covers them).
    ///   - wait: Long-poll: let the server hold the request this long when nothing is new.
    func pull(
        space: String,
        since: Int64,
        limit: Int?,
        excludeDevice: String?,
        wait: Duration?
    ) async throws
        -> PullResponse

    /// The newest snapshot manifest of `space` (`GET /sync/pull?space=`); `snapshot_seq` 0
    /// and no chunks when it has none.
    func manifest(space: String) async throws -> SnapshotManifest

    /// The body of snapshot chunk `id` (`GET /sync/pull/{id}`), as received: the caller
    /// checks its SHA-256 against `id`.
    func chunk(id: String) async throws -> [UInt8]

    /// Uploads a bulk chunk of mutations (`POST /sync/push`); answers per mutation as a push.
    func bulkPush(_ request: BulkPushRequest) async throws -> PushResponse
}

extension SyncTransport {
    /// A transport without snapshots answers that it has none.
    public func manifest(space: String) async throws -> SnapshotManifest {
        throw SyncTransportError(.permanent, "this transport does not serve snapshots")
    }

    /// A transport without snapshots has no chunks.
    public func chunk(id: String) async throws -> [UInt8] {
        throw SyncTransportError(.permanent, "this transport does not serve snapshots")
    }

    /// A transport without bulk upload refuses it; callers push in batches instead.
    public func bulkPush(_ request: BulkPushRequest) async throws -> PushResponse {
        throw SyncTransportError(.permanent, "this transport does not take bulk chunks")
    }
}

/// A failed transport call, classified by what the caller should do about it.
public struct SyncTransportError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. An open set.
    public struct Kind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The kind's name, as it appears in sync status reason codes.
        public var rawValue: String

        /// Creates a kind from its name.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// Network error, timeout, `429`, `5xx`: retry later (after ``SyncTransportError/retryAfter`` if set).
        public static let transient = Kind(rawValue: "transient")
        /// `401` that a token refresh could not cure: the app must sign in again.
        public static let authRequired = Kind(rawValue: "auth_required")
        /// `403`: the token does not grant this space.
        public static let policyForbidden = Kind(rawValue: "policy_forbidden")
        /// `409 cursor_ahead`: the client's cursor is beyond the server's log; reset and pull from 0.
        public static let cursorAhead = Kind(rawValue: "cursor_ahead")
        /// `410 history_pruned`: the cursor is below the space's floor; bootstrap from the
        /// newest snapshot (``SyncTransportError/floorSeq`` is the floor), then pull from it.
        public static let historyPruned = Kind(rawValue: "history_pruned")
        /// Any other `4xx`: the request itself is wrong; retrying it as is will not help.
        public static let permanent = Kind(rawValue: "permanent")

        public var description: String { rawValue }
    }

    /// What kind of failure this is.
    public var kind: Kind
    /// A sentence for people.
    public var message: String
    /// The HTTP status, when the server answered.
    public var status: Int?
    /// The protocol error code of the server's answer, when it had one.
    public var code: FerryError.Code?
    /// How long the server asked the client to wait (`Retry-After`).
    public var retryAfter: Duration?
    /// The error that caused this one.
    public var underlying: (any Error)?
    /// The space's floor, for ``Kind/historyPruned``.
    public var floorSeq: Int64?

    /// Creates an error.
    public init(
        _ kind: Kind,
        _ message: String,
        status: Int? = nil,
        code: FerryError.Code? = nil,
        retryAfter: Duration? = nil,
        underlying: (any Error)? = nil
    ) {
        self.kind = kind
        self.message = message
        self.status = status
        self.code = code
        self.retryAfter = retryAfter
        self.underlying = underlying
    }

    /// Whether retrying later may succeed.
    public var isTransient: Bool { kind == .transient }

    public var description: String {
        var text = "\(kind.rawValue): \(message)"
        if let status { text += " (HTTP \(status))" }
        return text
    }

    /// The classification the protocol prescribes for an HTTP error answer: `429` and `5xx`
    /// are transient, `401` needs a new sign-in, `403` is a policy refusal, `409
    /// cursor_ahead` asks for a reset, any other `4xx` is permanent.
    public static func classify(
        status: Int,
        code: FerryError.Code?,
        message: String,
        retryAfter: Duration? = nil
    )
        -> SyncTransportError
    {
        let kind: Kind
        switch status {
        case 401: kind = .authRequired
        case 403: kind = .policyForbidden
        case 409 where code == .cursorAhead: kind = .cursorAhead
        case 410 where code == .historyPruned: kind = .historyPruned
        case 408, 429, 500...599: kind = .transient
        case 400...499: kind = .permanent
        default: kind = .transient
        }
        return SyncTransportError(kind, message, status: status, code: code, retryAfter: retryAfter)
    }
}
