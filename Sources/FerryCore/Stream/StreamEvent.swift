/// One event of a stream (`POST /sync/stream`), checked: its `type`, its acknowledgement
/// token, and its `data` object kept as the raw JSON bytes it arrived in.
///
/// The data is not decoded when the line is read, so a consumer that only forwards or
/// counts events pays for one pass over the line. Decode it on demand with ``data()``, or
/// with ``mutation()`` for the events of an entity type, which carry a pulled mutation.
public struct StreamEvent: Sendable, Hashable {
    /// The event's type: an entity name, ``StreamAck/completeType`` or ``StreamAck/resetType``.
    public let type: String
    /// The acknowledgement token, `TYPE|SEQ`, exactly as the server sent it.
    public let ack: String
    /// The parsed ``ack``.
    public let acknowledgement: StreamAck
    /// The JSON text of the `data` object, as it appears in the line.
    public let dataBytes: [UInt8]

    /// Why a line is not a valid event.
    public struct Invalid: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong with the line, such as `type must be a non-empty string`.
        public var reason: String

        /// Creates the error.
        public init(_ reason: String) { self.reason = reason }

        public var description: String { reason }
    }

    /// Reads and checks one NDJSON line (without its newline).
    ///
    /// The line must be a JSON object whose `type` is a non-empty string, whose `data` is an
    /// object and whose `ack` is a string that parses as a ``StreamAck`` of the same type
    /// (checkpoints are kept per type, so an ack naming another type would move the wrong
    /// one). Other members are ignored. A `SyncComplete` event must carry an integer
    /// `head_seq` in its data.
    ///
    /// - Throws: ``Invalid`` saying why.
    public init(line: some Collection<UInt8>) throws(Invalid) {
        var type: String?
        var ack: String?
        var data: [UInt8]?
        do {
            try JSONReader.withReader(line) { reader in
                try reader.readMembers { reader, key in
                    switch key {
                    case "type": type = try reader.readString()
                    case "ack": ack = try reader.readString()
                    case "data":
                        let start = reader.offset
                        try reader.skipValue()
                        var slice = reader.bytes[start..<reader.offset]
                        while let first = slice.first, first == 0x20 || first == 0x09 || first == 0x0A || first == 0x0D {
                            slice = slice.dropFirst()
                        }
                        guard slice.first == UInt8(ascii: "{") else { throw JSONReadError("must be an object", path: [], offset: start) }
                        data = Array(slice)
                    default: try reader.skipValue()
                    }
                }
            }
        } catch let error as JSONReadError {
            throw Invalid(error.path.isEmpty ? "the line \(error.problem)" : error.description)
        } catch {
            throw Invalid("the line could not be read: \(error)")
        }
        guard let type, !type.isEmpty else { throw Invalid("type must be a non-empty string") }
        guard let data else { throw Invalid("data must be an object") }
        guard let ack else { throw Invalid("ack must be a string") }
        let parsed: StreamAck
        do {
            // An empty log's stream ends with `SyncComplete|0`, which no ack request may carry.
            parsed = ack == StreamAck.completeOfEmptyLog.description ? .completeOfEmptyLog : try StreamAck(parsing: ack)
        } catch {
            throw Invalid((error as? FerryError)?.message ?? "\(error)")
        }
        guard parsed.type == type else {
            throw Invalid("ack \"\(ack)\" names type \(parsed.type), not the event's type \(type)")
        }
        self.type = type
        self.ack = ack
        self.acknowledgement = parsed
        self.dataBytes = data
        if type == StreamAck.completeType, headSeq() == nil {
            throw Invalid("a SyncComplete event's data must hold an integer head_seq")
        }
    }

    /// Creates an event from parts already checked: `data` must be the JSON text of an
    /// object and `ack` must name `type`.
    public init(type: String, acknowledgement: StreamAck, dataBytes: [UInt8]) {
        self.type = type
        self.ack = acknowledgement.description
        self.acknowledgement = acknowledgement
        self.dataBytes = dataBytes
    }

    /// Decodes the data object.
    /// - Throws: ``JSONReadError`` (not expected for an event read from a line, which was checked).
    public func data() throws -> JSONValue {
        try JSONReader.withReader(dataBytes) { try $0.readValue() }
    }

    /// Decodes the data object as a pulled mutation, as the events of an entity type carry.
    /// - Throws: ``JSONReadError`` naming the member that is missing or ill-typed.
    public func mutation() throws -> LoggedMutation {
        try LoggedMutation(jsonBytes: dataBytes)
    }

    /// The `head_seq` of a `SyncComplete` event's data, or `nil` when it has none.
    public func headSeq() -> Int64? {
        try? JSONReader.withReader(dataBytes) { reader -> Int64? in
            var head: Int64?
            try reader.readMembers { reader, key in
                if key == "head_seq" { head = try reader.readOptionalInt64() } else { try reader.skipValue() }
            }
            return head
        }
    }

    /// Whether this is the stream's last line, ``StreamAck/completeType``.
    public var isComplete: Bool { type == StreamAck.completeType }

    /// Whether this line tells the device to start over, ``StreamAck/resetType``.
    public var isReset: Bool { type == StreamAck.resetType }
}
