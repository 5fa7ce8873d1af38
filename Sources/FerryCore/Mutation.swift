/// What a mutation does to its record.
///
/// An open set: decoding accepts any string so that a server can reject an unknown
/// operation for one mutation without failing the whole request. ``isKnown`` tells the
/// three operations of protocol version 1 apart from the rest.
public struct MutationOp: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The operation's name on the wire.
    public var rawValue: String

    /// Creates an operation from its wire name.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The payload is the whole record; it replaces any earlier version.
    public static let upsert = MutationOp(rawValue: "upsert")
    /// The payload holds only the fields that change; a field set to `null` is removed.
    public static let patch = MutationOp(rawValue: "patch")
    /// The record is removed; the payload is `{}` or absent.
    public static let delete = MutationOp(rawValue: "delete")

    /// Whether this is one of the operations of protocol version 1.
    public var isKnown: Bool { self == .upsert || self == .patch || self == .delete }

    public var description: String { rawValue }
}

/// One local change, as a client sends it in a push.
public struct MutationInput: Codable, Sendable, Hashable {
    /// Positive, strictly increasing within the client's (device, session).
    public var clientActionID: Int64
    /// The record type.
    public var entity: String
    /// The record's id within its entity.
    public var entityKey: String
    /// What the mutation does.
    public var op: MutationOp
    /// The record (upsert), the changed fields (patch), or absent (delete).
    public var payload: JSONValue?
    /// The seq of the version the change was made on; 0 for "new".
    public var baseSeq: Int64?
    /// When the change was made on the device, RFC 3339.
    public var clientTimestamp: String?

    /// Creates a mutation.
    public init(
        clientActionID: Int64,
        entity: String,
        entityKey: String,
        op: MutationOp,
        payload: JSONValue? = nil,
        baseSeq: Int64? = nil,
        clientTimestamp: String? = nil
    ) {
        self.clientActionID = clientActionID
        self.entity = entity
        self.entityKey = entityKey
        self.op = op
        self.payload = payload
        self.baseSeq = baseSeq
        self.clientTimestamp = clientTimestamp
    }

    enum CodingKeys: String, CodingKey {
        case clientActionID = "client_action_id"
        case entity
        case entityKey = "entity_key"
        case op
        case payload
        case baseSeq = "base_seq"
        case clientTimestamp = "client_timestamp"
    }
}

/// One mutation of a space's log, as a pull returns it.
public struct LoggedMutation: Codable, Sendable, Hashable {
    /// The mutation's position in its space's log.
    public var seq: Int64
    /// The device that wrote it.
    public var deviceID: String
    /// The session of that device that wrote it.
    public var sessionID: String
    /// The writer's id for the mutation.
    public var clientActionID: Int64
    /// The record type.
    public var entity: String
    /// The record's id within its entity.
    public var entityKey: String
    /// What the mutation does.
    public var op: MutationOp
    /// As pushed; absent when the push had none.
    public var payload: JSONValue?
    /// As pushed; absent when the push had none.
    public var baseSeq: Int64?
    /// As pushed; absent when the push had none.
    public var clientTimestamp: String?
    /// The server's commit time, RFC 3339 in UTC with milliseconds.
    public var occurredAt: String

    /// Creates a logged mutation.
    public init(
        seq: Int64,
        deviceID: String,
        sessionID: String,
        clientActionID: Int64,
        entity: String,
        entityKey: String,
        op: MutationOp,
        payload: JSONValue?,
        baseSeq: Int64?,
        clientTimestamp: String?,
        occurredAt: String
    ) {
        self.seq = seq
        self.deviceID = deviceID
        self.sessionID = sessionID
        self.clientActionID = clientActionID
        self.entity = entity
        self.entityKey = entityKey
        self.op = op
        self.payload = payload
        self.baseSeq = baseSeq
        self.clientTimestamp = clientTimestamp
        self.occurredAt = occurredAt
    }

    enum CodingKeys: String, CodingKey {
        case seq
        case deviceID = "device_id"
        case sessionID = "session_id"
        case clientActionID = "client_action_id"
        case entity
        case entityKey = "entity_key"
        case op
        case payload
        case baseSeq = "base_seq"
        case clientTimestamp = "client_timestamp"
        case occurredAt = "occurred_at"
    }
}
