/// The answer of `GET /sync/pull?space=`: a space's state at ``snapshotSeq``, cut into
/// content-addressed chunks (protocol, "Bootstrap snapshots").
///
/// A manifest with ``snapshotSeq`` 0 and no chunks means the space has no snapshot yet.
public struct SnapshotManifest: Sendable, Hashable {
    /// One chunk of a snapshot: an NDJSON body of ``SnapshotRecord`` lines.
    public struct Chunk: Sendable, Hashable {
        /// The SHA-256 of the chunk's body, 64 lowercase hex digits.
        public var id: String
        /// How many records (lines) it holds.
        public var records: Int
        /// Its body's length in bytes.
        public var bytes: Int
        /// When the server first stored it, in milliseconds since 1970 (UTC); on the wire
        /// `created_at`, RFC 3339.
        public var createdAtMilliseconds: Int64

        /// Creates a chunk entry.
        public init(id: String, records: Int, bytes: Int, createdAtMilliseconds: Int64) {
            self.id = id
            self.records = records
            self.bytes = bytes
            self.createdAtMilliseconds = createdAtMilliseconds
        }
    }

    /// The manifest format's version: 1.
    public var version: Int
    /// The id of the space's log the snapshot was taken of.
    public var logID: String
    /// The seq the state is taken at: a device that applies every chunk pulls from here.
    public var snapshotSeq: Int64
    /// The space's floor when the manifest was answered (0 while nothing was pruned).
    public var floorSeq: Int64
    /// The chunks, in the order the server cut them (by entity, then key).
    public var chunks: [Chunk]

    /// Creates a manifest.
    public init(version: Int = 1, logID: String, snapshotSeq: Int64, floorSeq: Int64, chunks: [Chunk]) {
        self.version = version
        self.logID = logID
        self.snapshotSeq = snapshotSeq
        self.floorSeq = floorSeq
        self.chunks = chunks
    }

    /// The records of all chunks.
    public var records: Int { chunks.reduce(0) { $0 + $1.records } }
    /// The bytes of all chunks.
    public var bytes: Int { chunks.reduce(0) { $0 + $1.bytes } }

    /// Whether `text` has the form of a chunk id: 64 hex digits (either case).
    public static func isChunkID(_ text: some StringProtocol) -> Bool {
        text.utf8.count == 64
            && text.utf8.allSatisfy { byte in
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte | 0x20)
            }
    }
}

extension SnapshotManifest.Chunk: JSONWritable, JSONReadable {
    package func writeJSON(to writer: inout JSONWriter) {
        writer.byte(UInt8(ascii: "{"))
        writer.key("id", first: true)
        writer.string(id)
        writer.key("records")
        writer.int(Int64(records))
        writer.key("bytes")
        writer.int(Int64(bytes))
        writer.key("created_at")
        writer.string(RFC3339.format(millisecondsSince1970: createdAtMilliseconds))
        writer.byte(UInt8(ascii: "}"))
    }

    package init(json reader: inout JSONReader) throws {
        var id: String?
        var records: Int64?
        var bytes: Int64?
        var created: String?
        try reader.readMembers { reader, key in
            switch key {
            case "id": id = try reader.readString()
            case "records": records = try reader.readInt64()
            case "bytes": bytes = try reader.readInt64()
            case "created_at": created = try reader.readString()
            default: try reader.skipValue()
            }
        }
        guard let id else { throw reader.missing("id") }
        guard SnapshotManifest.isChunkID(id) else { throw reader.error("id must be 64 hex digits") }
        guard let records, records >= 0 else { throw reader.missing("records") }
        guard let bytes, bytes >= 0 else { throw reader.missing("bytes") }
        guard let created else { throw reader.missing("created_at") }
        guard let milliseconds = RFC3339.millisecondsSince1970(created) else {
            throw reader.error("created_at must be an RFC 3339 date-time")
        }
        self.init(id: id.lowercased(), records: Int(records), bytes: Int(bytes), createdAtMilliseconds: milliseconds)
    }
}

extension SnapshotManifest: JSONWritable, JSONReadable {
    package func writeJSON(to writer: inout JSONWriter) {
        writer.byte(UInt8(ascii: "{"))
        writer.key("version", first: true)
        writer.int(Int64(version))
        writer.key("log_id")
        writer.string(logID)
        writer.key("snapshot_seq")
        writer.int(snapshotSeq)
        writer.key("floor_seq")
        writer.int(floorSeq)
        writer.key("chunks")
        writer.array(chunks)
        writer.byte(UInt8(ascii: "}"))
    }

    package init(json reader: inout JSONReader) throws {
        var version: Int64?
        var logID: String?
        var snapshotSeq: Int64?
        var floorSeq: Int64?
        var chunks: [Chunk]?
        try reader.readMembers { reader, key in
            switch key {
            case "version": version = try reader.readInt64()
            case "log_id": logID = try reader.readString()
            case "snapshot_seq": snapshotSeq = try reader.readInt64()
            case "floor_seq": floorSeq = try reader.readInt64()
            case "chunks": chunks = try reader.readArray(of: Chunk.self)
            default: try reader.skipValue()
            }
        }
        guard let version else { throw reader.missing("version") }
        guard let logID else { throw reader.missing("log_id") }
        guard let snapshotSeq else { throw reader.missing("snapshot_seq") }
        guard let chunks else { throw reader.missing("chunks") }
        self.init(version: Int(version), logID: logID, snapshotSeq: snapshotSeq, floorSeq: floorSeq ?? 0, chunks: chunks)
    }

    /// Reads a manifest from its JSON text.
    /// - Throws: ``JSONReadError`` when it is not one.
    public init(json bytes: some Collection<UInt8>) throws {
        self = try Self(jsonBytes: bytes)
    }

    /// The manifest's JSON text, UTF-8.
    public var json: [UInt8] { jsonBytes() }
}
