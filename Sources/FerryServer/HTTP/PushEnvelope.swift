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
        (space, deviceID, sessionID, mutations) = try PushRequest.readMembers(from: &reader) { try Self.mutation(&$0) }
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
