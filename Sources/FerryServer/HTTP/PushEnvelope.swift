import FerryCore

/// A push request as the server reads it: the payloads are kept as the JSON text that was
/// sent (without insignificant whitespace), checked but not turned into values, because the
/// store keeps that text and pulls send it back as it is.
struct PushEnvelope: JSONReadable {
    var space: String
    var deviceID: String
    var sessionID: String
    /// The mutations as sent, not yet checked against the protocol's rules.
    var mutations: [NewMutation]

    init(json reader: inout JSONReader) throws {
        var space: String?
        var device: String?
        var session: String?
        var mutations: [NewMutation]?
        try reader.readMembers { reader, key in
            switch key {
            case "space": space = try reader.readString()
            case "device_id": device = try reader.readString()
            case "session_id": session = try reader.readString()
            case "mutations":
                var list: [NewMutation] = []
                try reader.readArray { reader, _ in list.append(try Self.mutation(&reader)) }
                mutations = list
            default: try reader.skipValue()
            }
        }
        guard let space else { throw reader.missing("space") }
        guard let device else { throw reader.missing("device_id") }
        guard let session else { throw reader.missing("session_id") }
        guard let mutations else { throw reader.missing("mutations") }
        self.space = space
        self.deviceID = device
        self.sessionID = session
        self.mutations = mutations
    }

    private static func mutation(_ reader: inout JSONReader) throws -> NewMutation {
        var fields = MutationInputFields<[UInt8]>()
        try fields.read(from: &reader) { try $0.readCompactText() }
        let required = try fields.required(reader)
        return NewMutation(
            clientActionID: required.clientActionID,
            entity: required.entity,
            entityKey: required.entityKey,
            op: required.op,
            payload: fields.payload,
            baseSeq: fields.baseSeq,
            clientTimestamp: fields.clientTimestamp
        )
    }
}

extension LogPage {
    /// The pull answer for this page, as JSON text: the stored payloads are copied in as
    /// they are, and mutations committed in the same millisecond share one formatted time.
    public func pullResponseJSON() -> [UInt8] {
        var writer = JSONWriter(capacity: 256 + mutations.count * 320)
        var lastMilliseconds = Int64.min
        var lastTime: [UInt8] = []
        PullResponse.writeJSON(to: &writer, hasMore: hasMore, latestSeq: latestSeq, headSeq: headSeq, logID: logID) { writer in
            writer.byte(UInt8(ascii: "["))
            for (index, mutation) in mutations.enumerated() {
                if index > 0 { writer.byte(UInt8(ascii: ",")) }
                if mutation.occurredAtMilliseconds != lastMilliseconds {
                    lastMilliseconds = mutation.occurredAtMilliseconds
                    lastTime = Array(RFC3339.format(millisecondsSince1970: lastMilliseconds).utf8)
                }
                LoggedMutation.writeJSON(
                    to: &writer,
                    seq: mutation.seq,
                    deviceID: mutation.deviceID,
                    sessionID: mutation.sessionID,
                    clientActionID: mutation.clientActionID,
                    entity: mutation.entity,
                    entityKey: mutation.entityKey,
                    op: mutation.op,
                    baseSeq: mutation.baseSeq,
                    clientTimestamp: mutation.clientTimestamp,
                    occurredAt: lastTime,
                    payload: mutation.payload.map { payload in { $0.raw(payload) } }
                )
            }
            writer.byte(UInt8(ascii: "]"))
        }
        return writer.bytes
    }
}
