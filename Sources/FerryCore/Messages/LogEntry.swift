/// One mutation of a space's log: the mutation as pushed, with where and when the log put it.
///
/// Generic over the payload's form like ``Mutation``: ``LoggedMutation`` is what a pull
/// answer carries to a client (payload read), ``StoredMutation`` what a server's store reads
/// back (payload kept as the JSON text that was pushed). The mutation's members read through
/// the entry (`entry.entity`).
@dynamicMemberLookup
public struct LogEntry<Payload: Sendable & Hashable>: Sendable, Hashable {
    /// The mutation's position in its space's log.
    public var seq: Int64
    /// The device that wrote it.
    public var deviceID: String
    /// The session of that device that wrote it.
    public var sessionID: String
    /// The mutation, as pushed.
    public var mutation: Mutation<Payload>
    /// The server's commit time, in milliseconds since 1970 (UTC); on the wire, `occurred_at`
    /// in RFC 3339 with milliseconds.
    public var occurredAtMilliseconds: Int64

    /// Creates a log entry.
    public init(seq: Int64, deviceID: String, sessionID: String, mutation: Mutation<Payload>, occurredAtMilliseconds: Int64) {
        self.seq = seq
        self.deviceID = deviceID
        self.sessionID = sessionID
        self.mutation = mutation
        self.occurredAtMilliseconds = occurredAtMilliseconds
    }

    /// The members of the mutation, read and written through the entry. Inlinable, so that
    /// `entry.entity` on the apply path compiles to a field access, not a key path applied
    /// at run time.
    @inlinable
    public subscript<Value>(dynamicMember member: WritableKeyPath<Mutation<Payload>, Value>) -> Value {
        get { mutation[keyPath: member] }
        set { mutation[keyPath: member] = newValue }
    }

    /// The commit time as the wire writes it: RFC 3339 in UTC with milliseconds.
    public var occurredAt: String { RFC3339.format(millisecondsSince1970: occurredAtMilliseconds) }

    /// The same entry with its payload turned into another form.
    public func mapPayload<Other>(_ transform: (Payload) throws -> Other) rethrows -> LogEntry<Other> {
        LogEntry<Other>(
            seq: seq,
            deviceID: deviceID,
            sessionID: sessionID,
            mutation: try mutation.mapPayload(transform),
            occurredAtMilliseconds: occurredAtMilliseconds
        )
    }
}

/// A mutation of a space's log as a pull returns it to a client, its payload read.
public typealias LoggedMutation = LogEntry<JSONValue>

/// A mutation of a space's log as a store keeps it: the payload is the JSON text that was
/// pushed, written into pull answers as it is, without being read again.
public typealias StoredMutation = LogEntry<[UInt8]>

extension LogEntry<[UInt8]> {
    /// The entry as a pull answer carries it, with its payload read.
    /// - Throws: ``JSONReadError`` when the stored payload is not valid JSON.
    public func logged() throws -> LoggedMutation {
        try mapPayload { try JSONValue(parsing: $0) }
    }
}

extension LogEntry: Codable where Payload == JSONValue {
    enum CodingKeys: String, CodingKey {
        case seq
        case deviceID = "device_id"
        case sessionID = "session_id"
        case occurredAt = "occurred_at"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let text = try container.decode(String.self, forKey: .occurredAt)
        guard let milliseconds = RFC3339.millisecondsSince1970(text) else {
            throw DecodingError.dataCorruptedError(
                forKey: .occurredAt,
                in: container,
                debugDescription: "occurred_at must be an RFC 3339 date-time"
            )
        }
        self.init(
            seq: try container.decode(Int64.self, forKey: .seq),
            deviceID: try container.decode(String.self, forKey: .deviceID),
            sessionID: try container.decode(String.self, forKey: .sessionID),
            mutation: try Mutation(from: decoder),
            occurredAtMilliseconds: milliseconds
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(seq, forKey: .seq)
        try container.encode(deviceID, forKey: .deviceID)
        try container.encode(sessionID, forKey: .sessionID)
        try mutation.encode(to: encoder)
        try container.encode(occurredAt, forKey: .occurredAt)
    }
}
