/// One line of a snapshot chunk: a record's latest version and the last seq that changed it,
/// `{"entity": "note", "entity_key": "n1", "payload": {...}, "seq": 117002}`.
public struct SnapshotRecord: Sendable, Hashable {
    /// The record type.
    public var entity: String
    /// The record's id within its entity.
    public var entityKey: String
    /// The record's fields, as compact JSON object text (UTF-8).
    public var payload: [UInt8]
    /// The last seq that changed the record.
    public var seq: Int64

    /// Creates a record.
    public init(entity: String, entityKey: String, payload: [UInt8], seq: Int64) {
        self.entity = entity
        self.entityKey = entityKey
        self.payload = payload
        self.seq = seq
    }

    /// The record's key.
    public var key: RecordKey { RecordKey(entity: entity, key: entityKey) }

    /// Writes the record as one chunk line, newline included.
    package func writeLine(to writer: inout JSONWriter) {
        writer.byte(UInt8(ascii: "{"))
        writer.key("entity", first: true)
        writer.string(entity)
        writer.key("entity_key")
        writer.string(entityKey)
        writer.key("payload")
        writer.raw(payload)
        writer.key("seq")
        writer.int(seq)
        writer.byte(UInt8(ascii: "}"))
        writer.byte(UInt8(ascii: "\n"))
    }

    /// Reads one chunk line (without its newline).
    /// - Throws: ``JSONReadError`` when it is not a record line.
    public init(line: some Collection<UInt8>) throws {
        self = try JSONReader.withReader(line) { reader in
            var entity: String?
            var key: String?
            var payload: [UInt8]?
            var seq: Int64?
            try reader.readMembers { reader, name in
                switch name {
                case "entity": entity = try reader.readString()
                case "entity_key": key = try reader.readString()
                case "payload":
                    let text = try reader.readCompactText()
                    guard text.first == UInt8(ascii: "{") else { throw reader.error("payload must be an object") }
                    payload = text
                case "seq": seq = try reader.readInt64()
                default: try reader.skipValue()
                }
            }
            guard let entity else { throw reader.missing("entity") }
            guard let key else { throw reader.missing("entity_key") }
            guard let payload else { throw reader.missing("payload") }
            guard let seq, seq >= 1 else { throw reader.missing("seq") }
            return SnapshotRecord(entity: entity, entityKey: key, payload: payload, seq: seq)
        }
    }

    /// Reads every line of a chunk body.
    /// - Throws: ``JSONReadError`` naming the first line that is not a record.
    public static func lines(of body: [UInt8]) throws -> [SnapshotRecord] {
        var records: [SnapshotRecord] = []
        var start = 0
        var number = 0
        while start < body.count {
            let end = body[start...].firstIndex(of: UInt8(ascii: "\n")) ?? body.count
            number += 1
            if end > start {
                do {
                    records.append(try SnapshotRecord(line: body[start..<end]))
                } catch var error as JSONReadError {
                    error.path.insert("line \(number)", at: 0)
                    throw error
                }
            }
            start = end + 1
        }
        return records
    }
}
