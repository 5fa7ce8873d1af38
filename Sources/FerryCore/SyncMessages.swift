/// The body of `POST /sync/mutations/push`.
public struct PushRequest: Codable, Sendable, Hashable {
    /// The space the mutations belong to.
    public var space: String
    /// The writing device.
    public var deviceID: String
    /// The writing device's current session.
    public var sessionID: String
    /// The mutations, in the order the server is to log them.
    public var mutations: [MutationInput]

    /// Creates a push request.
    public init(space: String, deviceID: String, sessionID: String, mutations: [MutationInput]) {
        self.space = space
        self.deviceID = deviceID
        self.sessionID = sessionID
        self.mutations = mutations
    }

    enum CodingKeys: String, CodingKey {
        case space
        case deviceID = "device_id"
        case sessionID = "session_id"
        case mutations
    }
}

/// A mutation the server stored, with the seq it was stored under.
public struct MutationAck: Codable, Sendable, Hashable {
    /// The mutation's client action id.
    public var clientActionID: Int64
    /// Its seq in the space's log.
    public var seq: Int64

    /// Creates an acknowledgement.
    public init(clientActionID: Int64, seq: Int64) {
        self.clientActionID = clientActionID
        self.seq = seq
    }

    enum CodingKeys: String, CodingKey {
        case clientActionID = "client_action_id"
        case seq
    }
}

/// Why a pushed mutation was not stored. An open set of codes.
public struct RejectionReason: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The reason's name on the wire.
    public var rawValue: String

    /// Creates a reason from its wire name.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The mutation's triple was already stored; `seq` says under which seq. Clients treat
    /// a duplicate as acknowledged.
    public static let duplicate = RejectionReason(rawValue: "duplicate")
    /// The mutation breaks a rule of the protocol; `message` says which.
    public static let invalid = RejectionReason(rawValue: "invalid")

    public var description: String { rawValue }
}

/// A pushed mutation that was not stored.
public struct MutationRejection: Codable, Sendable, Hashable {
    /// The mutation's client action id.
    public var clientActionID: Int64
    /// Why it was not stored.
    public var reason: RejectionReason
    /// For a duplicate: the seq the first copy was stored under.
    public var seq: Int64?
    /// For an invalid mutation: what is wrong with it.
    public var message: String?

    /// Creates a rejection.
    public init(clientActionID: Int64, reason: RejectionReason, seq: Int64? = nil, message: String? = nil) {
        self.clientActionID = clientActionID
        self.reason = reason
        self.seq = seq
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case clientActionID = "client_action_id"
        case reason
        case seq
        case message
    }
}

/// An accepted mutation that was made on an older version than another device's latest
/// write of the same record.
public struct ConflictReport: Codable, Sendable, Hashable {
    /// The accepted mutation's client action id.
    public var clientActionID: Int64
    /// The record type.
    public var entity: String
    /// The record's id.
    public var entityKey: String
    /// The version the mutation was made on.
    public var baseSeq: Int64
    /// The seq of the other device's latest write of the record when the mutation was accepted.
    public var currentSeq: Int64

    /// Creates a conflict report.
    public init(clientActionID: Int64, entity: String, entityKey: String, baseSeq: Int64, currentSeq: Int64) {
        self.clientActionID = clientActionID
        self.entity = entity
        self.entityKey = entityKey
        self.baseSeq = baseSeq
        self.currentSeq = currentSeq
    }

    enum CodingKeys: String, CodingKey {
        case clientActionID = "client_action_id"
        case entity
        case entityKey = "entity_key"
        case baseSeq = "base_seq"
        case currentSeq = "current_seq"
    }
}

/// The answer to a push: every mutation of the request once, in `acks` or in `rejected`.
public struct PushResponse: Codable, Sendable, Hashable {
    /// The number of mutations stored by this request; equals `acks.count`.
    public var accepted: Int
    /// The stored mutations and their seqs, in request order.
    public var acks: [MutationAck]
    /// The mutations not stored, in request order.
    public var rejected: [MutationRejection]
    /// Accepted mutations made on an outdated version.
    public var conflicts: [ConflictReport]
    /// The space's head after the push.
    public var headSeq: Int64
    /// The id of the space's log.
    public var logID: String

    /// Creates a push response.
    public init(
        accepted: Int,
        acks: [MutationAck],
        rejected: [MutationRejection],
        conflicts: [ConflictReport],
        headSeq: Int64,
        logID: String
    ) {
        self.accepted = accepted
        self.acks = acks
        self.rejected = rejected
        self.conflicts = conflicts
        self.headSeq = headSeq
        self.logID = logID
    }

    enum CodingKeys: String, CodingKey {
        case accepted
        case acks
        case rejected
        case conflicts
        case headSeq = "head_seq"
        case logID = "log_id"
    }
}

/// The answer to a pull: one page of a space's log.
public struct PullResponse: Codable, Sendable, Hashable {
    /// The mutations with `since_seq < seq ≤ latest_seq`, ascending, without the excluded device's.
    public var mutations: [LoggedMutation]
    /// True exactly when `head_seq > latest_seq`.
    public var hasMore: Bool
    /// The cursor to send as `since_seq` next time.
    public var latestSeq: Int64
    /// The space's head when the page was read.
    public var headSeq: Int64
    /// The id of the space's log.
    public var logID: String

    /// Creates a pull response.
    public init(mutations: [LoggedMutation], hasMore: Bool, latestSeq: Int64, headSeq: Int64, logID: String) {
        self.mutations = mutations
        self.hasMore = hasMore
        self.latestSeq = latestSeq
        self.headSeq = headSeq
        self.logID = logID
    }

    enum CodingKeys: String, CodingKey {
        case mutations
        case hasMore = "has_more"
        case latestSeq = "latest_seq"
        case headSeq = "head_seq"
        case logID = "log_id"
    }
}

/// The body of `POST /auth/refresh`.
public struct RefreshRequest: Codable, Sendable, Hashable {
    /// The refresh token to spend; it stops working once used.
    public var refreshToken: String

    /// Creates a refresh request.
    public init(refreshToken: String) { self.refreshToken = refreshToken }

    enum CodingKeys: String, CodingKey {
        case refreshToken = "refresh_token"
    }
}

/// A fresh access token and the refresh token that replaces the one spent.
public struct TokenPair: Codable, Sendable, Hashable {
    /// The bearer token for `/sync/...` requests.
    public var accessToken: String
    /// The token to spend on the next `POST /auth/refresh`.
    public var refreshToken: String
    /// Seconds until the access token expires.
    public var expiresIn: Int64

    /// Creates a token pair.
    public init(accessToken: String, refreshToken: String, expiresIn: Int64) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresIn = expiresIn
    }

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
        case expiresIn = "expires_in"
    }
}
