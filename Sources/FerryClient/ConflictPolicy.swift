import FerryCore

/// What a conflict resolver is shown: the record as this device sees it, as the server now
/// has it, and which fields both sides changed.
public struct ConflictContext: Sendable, Hashable {
    /// The table (entity) of the record.
    public var entity: String
    /// The record's key.
    public var entityKey: String
    /// The record on this device: server state plus pending local changes; `nil` if deleted.
    public var local: [String: JSONValue]?
    /// The record as the server has it after the remote change; `nil` if deleted.
    public var remote: [String: JSONValue]?
    /// The seq of the remote change.
    public var remoteSeq: Int64
    /// The fields both sides changed (all fields when one side replaced or deleted the record).
    public var fields: Set<String>

    /// Creates a context.
    public init(
        entity: String,
        entityKey: String,
        local: [String: JSONValue]?,
        remote: [String: JSONValue]?,
        remoteSeq: Int64,
        fields: Set<String>
    ) {
        self.entity = entity
        self.entityKey = entityKey
        self.local = local
        self.remote = remote
        self.remoteSeq = remoteSeq
        self.fields = fields
    }
}

/// A resolver: answers the merged record (or `nil` to delete it). The answer is written
/// as a new local mutation, so every device ends with it.
public typealias ConflictResolver = @Sendable (ConflictContext) -> [String: JSONValue]?

/// How a table settles a remote change to a field that a pending local change also changed.
/// Every such conflict is recorded, whatever the policy.
public enum ConflictPolicy: Sendable {
    /// The later write in server order wins: pending local changes are pushed after the
    /// remote one, so they win. The default.
    case lastWriterWins
    /// The remote change wins: conflicting pending local changes are dropped (or, if the
    /// server already took them, overridden by a new local mutation that restores the
    /// remote values).
    case remoteWins
    /// A resolver returns the merged record, written as a new local mutation.
    case custom(ConflictResolver)

    /// The name stored in the database.
    var storedName: String {
        switch self {
        case .lastWriterWins: "last_writer_wins"
        case .remoteWins: "remote_wins"
        case .custom: "custom"
        }
    }
}

/// How a recorded conflict was settled.
public struct ConflictResolution: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The resolution's name.
    public var rawValue: String

    /// Creates a resolution from its name.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The pending local change stays and wins in server order.
    public static let localWins = ConflictResolution(rawValue: "local_wins")
    /// The remote change wins; the conflicting local change was dropped or overridden.
    public static let remoteWins = ConflictResolution(rawValue: "remote_wins")
    /// A resolver's merged record was written as a new local mutation.
    public static let merged = ConflictResolution(rawValue: "merged")
    /// The server reported the conflict on push; the pull of the remote change settles it.
    public static let reported = ConflictResolution(rawValue: "reported")

    public var description: String { rawValue }
}

/// A recorded conflict.
public struct ConflictRecord: Sendable, Hashable, Codable {
    /// The record's id in the conflicts table.
    public var id: Int64
    /// The table of the record.
    public var entity: String
    /// The record's key.
    public var entityKey: String
    /// The local version when the conflict was found.
    public var local: JSONValue?
    /// The remote version.
    public var remote: JSONValue?
    /// The seq the local change was based on.
    public var baseSeq: Int64?
    /// The seq the server gave the local change, when it had one.
    public var localSeq: Int64?
    /// The seq of the remote change.
    public var remoteSeq: Int64
    /// When it was found, RFC 3339.
    public var detectedAt: String
    /// How the policy settled it.
    public var resolution: ConflictResolution
    /// When a person acknowledged it (`ferry conflicts resolve`), RFC 3339.
    public var acknowledgedAt: String?

    enum CodingKeys: String, CodingKey {
        case id
        case entity
        case entityKey = "entity_key"
        case local
        case remote
        case baseSeq = "base_seq"
        case localSeq = "local_seq"
        case remoteSeq = "remote_seq"
        case detectedAt = "detected_at"
        case resolution
        case acknowledgedAt = "acknowledged_at"
    }
}

/// A remote mutation this device could not apply.
public struct DeadLetter: Sendable, Hashable, Codable {
    /// The id in the dead-letter table.
    public var id: Int64
    /// The mutation's seq.
    public var seq: Int64
    /// The table it was for.
    public var entity: String
    /// The record's key.
    public var entityKey: String
    /// The operation.
    public var op: String
    /// Why it could not be applied.
    public var error: String
    /// When, RFC 3339.
    public var failedAt: String

    enum CodingKeys: String, CodingKey {
        case id
        case seq
        case entity
        case entityKey = "entity_key"
        case op
        case error
        case failedAt = "failed_at"
    }
}
