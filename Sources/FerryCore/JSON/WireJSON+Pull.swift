// The JSON forms of a pull answer and its log entries.

extension LogEntry {
    /// Writes the entry as a pull answer carries it, the payload by `payload`, and
    /// `occurredAt` as the UTF-8 of its RFC 3339 text (a server formats it once for the
    /// entries of one millisecond). Inlinable, so that the server's pull and stream writers
    /// get it specialized for stored payloads rather than run it generically per entry.
    @inlinable
    package func writeJSON(
        to writer: inout JSONWriter,
        occurredAt: some Sequence<UInt8>,
        payload writePayload: (inout JSONWriter, Payload) -> Void
    ) {
        writer.byte(UInt8(ascii: "{"))
        writer.key("seq", first: true)
        writer.int(seq)
        writer.key("device_id")
        writer.string(deviceID)
        writer.key("session_id")
        writer.string(sessionID)
        mutation.writeMembers(to: &writer, first: false, payload: writePayload)
        writer.key("occurred_at")
        writer.byte(UInt8(ascii: "\""))
        writer.raw(occurredAt)
        writer.byte(UInt8(ascii: "\""))
        writer.byte(UInt8(ascii: "}"))
    }
}

extension LogEntry<JSONValue>: JSONWritable, JSONReadable {
    package func writeJSON(to writer: inout JSONWriter) {
        writeJSON(to: &writer, occurredAt: occurredAt.utf8) { $0.value($1, sortingKeys: false) }
    }

    package init(json reader: inout JSONReader) throws {
        var seq: Int64?
        var device: String?
        var session: String?
        var fields = MutationFields<JSONValue>()
        var occurredAt: String?
        // The members a pushed mutation has are read as in a push; the others here.
        try reader.readMembers { reader, key in
            switch key {
            case "seq": seq = try reader.readInt64()
            case "device_id": device = try reader.readString()
            case "session_id": session = try reader.readString()
            case "occurred_at": occurredAt = try reader.readString()
            default:
                if try !fields.read(member: key, from: &reader, payload: { try $0.readValue() }) { try reader.skipValue() }
            }
        }
        guard let seq else { throw reader.missing("seq") }
        guard let device else { throw reader.missing("device_id") }
        guard let session else { throw reader.missing("session_id") }
        let mutation = try fields.mutation(reader)
        guard let occurredAt else { throw reader.missing("occurred_at") }
        guard let milliseconds = RFC3339.millisecondsSince1970(occurredAt) else {
            throw reader.error("occurred_at must be an RFC 3339 date-time")
        }
        self.init(seq: seq, deviceID: device, sessionID: session, mutation: mutation, occurredAtMilliseconds: milliseconds)
    }
}

extension PullResponse: JSONWritable, JSONReadable {
    package func writeJSON(to writer: inout JSONWriter) {
        Self.writeJSON(to: &writer, hasMore: hasMore, latestSeq: latestSeq, headSeq: headSeq, logID: logID, floorSeq: floorSeq) { writer in
            writer.array(mutations)
        }
    }

    /// Writes a pull answer from its members, the `mutations` array by `mutations`.
    package static func writeJSON(
        to writer: inout JSONWriter,
        hasMore: Bool,
        latestSeq: Int64,
        headSeq: Int64,
        logID: String,
        floorSeq: Int64,
        mutations: (inout JSONWriter) -> Void
    ) {
        writer.byte(UInt8(ascii: "{"))
        writer.key("mutations", first: true)
        mutations(&writer)
        writer.key("has_more")
        writer.bool(hasMore)
        writer.key("latest_seq")
        writer.int(latestSeq)
        writer.key("head_seq")
        writer.int(headSeq)
        writer.key("log_id")
        writer.string(logID)
        writer.key("floor_seq")
        writer.int(floorSeq)
        writer.byte(UInt8(ascii: "}"))
    }

    package init(json reader: inout JSONReader) throws {
        var floor: Int64 = 0
        var mutations: [LoggedMutation]?
        var hasMore: Bool?
        var latest: Int64?
        var head: Int64?
        var logID: String?
        try reader.readMembers { reader, key in
            switch key {
            case "mutations": mutations = try reader.readArray(of: LoggedMutation.self)
            case "has_more": hasMore = try reader.readBool()
            case "latest_seq": latest = try reader.readInt64()
            case "head_seq": head = try reader.readInt64()
            case "log_id": logID = try reader.readString()
            case "floor_seq": floor = try reader.readOptionalInt64() ?? 0
            default: try reader.skipValue()
            }
        }
        guard let mutations else { throw reader.missing("mutations") }
        guard let hasMore else { throw reader.missing("has_more") }
        guard let latest else { throw reader.missing("latest_seq") }
        guard let head else { throw reader.missing("head_seq") }
        guard let logID else { throw reader.missing("log_id") }
        self.init(mutations: mutations, hasMore: hasMore, latestSeq: latest, headSeq: head, logID: logID, floorSeq: floor)
    }
}
