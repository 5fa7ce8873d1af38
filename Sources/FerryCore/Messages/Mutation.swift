/// One change to one record: what a device pushes, and what the log keeps of it.
///
/// Generic over the form of the payload: a ``JSONValue`` where the payload is read
/// (``MutationInput``, on the client), or the payload's compact JSON text as UTF-8 bytes where
/// it is kept as it was sent (``NewMutation``, on the server, which never reads it again).
public struct Mutation<Payload: Sendable & Hashable>: Sendable, Hashable {
    /// Positive, strictly increasing within the writer's (device, session).
    public var clientActionID: Int64
    /// The record type.
    public var entity: String
    /// The record's id within its entity.
    public var entityKey: String
    /// What the mutation does.
    public var op: MutationOp
    /// The record (upsert), the changed fields (patch), or absent (delete).
    public var payload: Payload?
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
        payload: Payload? = nil,
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

    /// The same mutation with its payload turned into another form.
    public func mapPayload<Other>(_ transform: (Payload) throws -> Other) rethrows -> Mutation<Other> {
        Mutation<Other>(
            clientActionID: clientActionID,
            entity: entity,
            entityKey: entityKey,
            op: op,
            payload: try payload.map(transform),
            baseSeq: baseSeq,
            clientTimestamp: clientTimestamp
        )
    }
}

/// A mutation whose payload is a ``JSONValue``: what a client pushes.
public typealias MutationInput = Mutation<JSONValue>

/// A mutation whose payload is its compact JSON text (UTF-8): what a server appends to a log
/// as it was pushed, without reading it into values.
public typealias NewMutation = Mutation<[UInt8]>

extension Mutation: Codable where Payload == JSONValue {
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
