import FerryCore

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
