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
