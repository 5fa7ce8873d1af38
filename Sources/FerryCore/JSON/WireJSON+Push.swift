// The JSON forms of a push: the request, its mutations, and the answer.

extension Mutation {
    /// Writes the mutation's members (no braces), the payload by `payload`: the one JSON form
    /// of a mutation, shared by a push and by a pull answer whatever the payload's form.
    @inlinable
    package func writeMembers(to writer: inout JSONWriter, first: Bool, payload writePayload: (inout JSONWriter, Payload) -> Void) {
        writer.key("client_action_id", first: first)
        writer.int(clientActionID)
        writer.key("entity")
        writer.string(entity)
        writer.key("entity_key")
        writer.string(entityKey)
        writer.key("op")
        writer.string(op.rawValue)
        if let payload {
            writer.key("payload")
            writePayload(&writer, payload)
        }
        if let baseSeq {
            writer.key("base_seq")
            writer.int(baseSeq)
        }
        if let clientTimestamp {
            writer.key("client_timestamp")
            writer.string(clientTimestamp)
        }
    }
}

extension Mutation<JSONValue>: JSONWritable, JSONReadable {
    package func writeJSON(to writer: inout JSONWriter) {
        writer.byte(UInt8(ascii: "{"))
        writeMembers(to: &writer, first: true) { $0.value($1, sortingKeys: false) }
        writer.byte(UInt8(ascii: "}"))
    }

    package init(json reader: inout JSONReader) throws {
        var fields = MutationFields<JSONValue>()
        try fields.read(from: &reader) { try $0.readValue() }
        self = try fields.mutation(reader)
    }
}

extension Mutation<[UInt8]> {
    /// Reads a pushed mutation, keeping its payload as compact JSON text.
    package init(keepingPayloadText reader: inout JSONReader) throws {
        var fields = MutationFields<[UInt8]>()
        try fields.read(from: &reader) { try $0.readCompactText() }
        self = try fields.mutation(reader)
    }
}

/// The members of a mutation as they are read, with its payload read as `Payload`: a
/// ``JSONValue`` for ``MutationInput``, or the payload's text for a server that stores it as
/// sent.
package struct MutationFields<Payload: Sendable & Hashable> {
    var clientActionID: Int64?
    var entity: String?
    var entityKey: String?
    var op: String?
    var payload: Payload?
    var baseSeq: Int64?
    var clientTimestamp: String?

    /// No members read yet.
    package init() {}

    /// Reads the members of a mutation object, the payload with `readPayload`.
    package mutating func read(from reader: inout JSONReader, payload readPayload: (inout JSONReader) throws -> Payload) throws {
        try reader.readMembers { reader, key in
            if try !read(member: key, from: &reader, payload: readPayload) { try reader.skipValue() }
        }
    }

    /// Reads the value of member `key` when it is one of a mutation's, and answers whether it
    /// was; reads nothing otherwise.
    package mutating func read(
        member key: JSONKey,
        from reader: inout JSONReader,
        payload readPayload: (inout JSONReader) throws -> Payload
    ) throws -> Bool {
        switch key {
        case "client_action_id": clientActionID = try reader.readInt64()
        case "entity": entity = try reader.readString()
        case "entity_key": entityKey = try reader.readString()
        case "op": op = try reader.readString()
        case "payload": payload = try reader.readNull() ? nil : readPayload(&reader)
        case "base_seq": baseSeq = try reader.readOptionalInt64()
        case "client_timestamp": clientTimestamp = try reader.readOptionalString()
        default: return false
        }
        return true
    }

    /// The mutation read, or the error naming the first required member missing.
    package func mutation(_ reader: JSONReader) throws -> Mutation<Payload> {
        guard let clientActionID else { throw reader.missing("client_action_id") }
        guard let entity else { throw reader.missing("entity") }
        guard let entityKey else { throw reader.missing("entity_key") }
        guard let op else { throw reader.missing("op") }
        return Mutation(
            clientActionID: clientActionID,
            entity: entity,
            entityKey: entityKey,
            op: MutationOp(rawValue: op),
            payload: payload,
            baseSeq: baseSeq,
            clientTimestamp: clientTimestamp
        )
    }
}

extension PushRequest: JSONWritable, JSONReadable {
    package func writeJSON(to writer: inout JSONWriter) {
        writer.byte(UInt8(ascii: "{"))
        writer.key("space", first: true)
        writer.string(space)
        writer.key("device_id")
        writer.string(deviceID)
        writer.key("session_id")
        writer.string(sessionID)
        writer.key("mutations")
        writer.array(mutations)
        writer.byte(UInt8(ascii: "}"))
    }

    package init(json reader: inout JSONReader) throws {
        let members = try Self.readMembers(from: &reader) { try MutationInput(json: &$0) }
        self.init(space: members.space, deviceID: members.deviceID, sessionID: members.sessionID, mutations: members.mutations)
    }

    /// Reads a push request's members, each mutation with `mutation`: the form a server uses
    /// to keep each payload as text rather than as a ``JSONValue``.
    /// - Throws: ``JSONReadError`` naming the member that is missing or ill-typed.
    package static func readMembers<Mutation>(
        from reader: inout JSONReader,
        mutation: (inout JSONReader) throws -> Mutation
    ) throws -> (space: String, deviceID: String, sessionID: String, mutations: [Mutation]) {
        var space: String?
        var device: String?
        var session: String?
        var mutations: [Mutation]?
        try reader.readMembers { reader, key in
            switch key {
            case "space": space = try reader.readString()
            case "device_id": device = try reader.readString()
            case "session_id": session = try reader.readString()
            case "mutations":
                var list: [Mutation] = []
                try reader.readArray { reader, _ in list.append(try mutation(&reader)) }
                mutations = list
            default: try reader.skipValue()
            }
        }
        guard let space else { throw reader.missing("space") }
        guard let device else { throw reader.missing("device_id") }
        guard let session else { throw reader.missing("session_id") }
        guard let mutations else { throw reader.missing("mutations") }
        return (space, device, session, mutations)
    }
}

extension MutationAck: JSONWritable, JSONReadable {
    package func writeJSON(to writer: inout JSONWriter) {
        writer.byte(UInt8(ascii: "{"))
        writer.key("client_action_id", first: true)
        writer.int(clientActionID)
        writer.key("seq")
        writer.int(seq)
        writer.byte(UInt8(ascii: "}"))
    }

    package init(json reader: inout JSONReader) throws {
        var id: Int64?
        var seq: Int64?
        try reader.readMembers { reader, key in
            switch key {
            case "client_action_id": id = try reader.readInt64()
            case "seq": seq = try reader.readInt64()
            default: try reader.skipValue()
            }
        }
        guard let id else { throw reader.missing("client_action_id") }
        guard let seq else { throw reader.missing("seq") }
        self.init(clientActionID: id, seq: seq)
    }
}

extension MutationRejection: JSONWritable, JSONReadable {
    package func writeJSON(to writer: inout JSONWriter) {
        writer.byte(UInt8(ascii: "{"))
        writer.key("client_action_id", first: true)
        writer.int(clientActionID)
        writer.key("reason")
        writer.string(reason.rawValue)
        if let seq {
            writer.key("seq")
            writer.int(seq)
        }
        if let message {
            writer.key("message")
            writer.string(message)
        }
        writer.byte(UInt8(ascii: "}"))
    }

    package init(json reader: inout JSONReader) throws {
        var id: Int64?
        var reason: String?
        var seq: Int64?
        var message: String?
        try reader.readMembers { reader, key in
            switch key {
            case "client_action_id": id = try reader.readInt64()
            case "reason": reason = try reader.readString()
            case "seq": seq = try reader.readOptionalInt64()
            case "message": message = try reader.readOptionalString()
            default: try reader.skipValue()
            }
        }
        guard let id else { throw reader.missing("client_action_id") }
        guard let reason else { throw reader.missing("reason") }
        self.init(clientActionID: id, reason: RejectionReason(rawValue: reason), seq: seq, message: message)
    }
}

extension ConflictReport: JSONWritable, JSONReadable {
    package func writeJSON(to writer: inout JSONWriter) {
        writer.byte(UInt8(ascii: "{"))
        writer.key("client_action_id", first: true)
        writer.int(clientActionID)
        writer.key("entity")
        writer.string(entity)
        writer.key("entity_key")
        writer.string(entityKey)
        writer.key("base_seq")
        writer.int(baseSeq)
        writer.key("current_seq")
        writer.int(currentSeq)
        writer.byte(UInt8(ascii: "}"))
    }

    package init(json reader: inout JSONReader) throws {
        var id: Int64?
        var entity: String?
        var key: String?
        var base: Int64?
        var current: Int64?
        try reader.readMembers { reader, member in
            switch member {
            case "client_action_id": id = try reader.readInt64()
            case "entity": entity = try reader.readString()
            case "entity_key": key = try reader.readString()
            case "base_seq": base = try reader.readInt64()
            case "current_seq": current = try reader.readInt64()
            default: try reader.skipValue()
            }
        }
        guard let id else { throw reader.missing("client_action_id") }
        guard let entity else { throw reader.missing("entity") }
        guard let key else { throw reader.missing("entity_key") }
        guard let base else { throw reader.missing("base_seq") }
        guard let current else { throw reader.missing("current_seq") }
        self.init(clientActionID: id, entity: entity, entityKey: key, baseSeq: base, currentSeq: current)
    }
}

extension PushResponse: JSONWritable, JSONReadable {
    package func writeJSON(to writer: inout JSONWriter) {
        writer.byte(UInt8(ascii: "{"))
        writer.key("accepted", first: true)
        writer.int(Int64(accepted))
        writer.key("acks")
        writer.array(acks)
        writer.key("rejected")
        writer.array(rejected)
        writer.key("conflicts")
        writer.array(conflicts)
        writer.key("head_seq")
        writer.int(headSeq)
        writer.key("log_id")
        writer.string(logID)
        writer.byte(UInt8(ascii: "}"))
    }

    package init(json reader: inout JSONReader) throws {
        var accepted: Int64?
        var acks: [MutationAck]?
        var rejected: [MutationRejection]?
        var conflicts: [ConflictReport]?
        var head: Int64?
        var logID: String?
        try reader.readMembers { reader, key in
            switch key {
            case "accepted": accepted = try reader.readInt64()
            case "acks": acks = try reader.readArray(of: MutationAck.self)
            case "rejected": rejected = try reader.readArray(of: MutationRejection.self)
            case "conflicts": conflicts = try reader.readArray(of: ConflictReport.self)
            case "head_seq": head = try reader.readInt64()
            case "log_id": logID = try reader.readString()
            default: try reader.skipValue()
            }
        }
        guard let accepted else { throw reader.missing("accepted") }
        guard let acks else { throw reader.missing("acks") }
        guard let rejected else { throw reader.missing("rejected") }
        guard let conflicts else { throw reader.missing("conflicts") }
        guard let head else { throw reader.missing("head_seq") }
        guard let logID else { throw reader.missing("log_id") }
        self.init(accepted: Int(accepted), acks: acks, rejected: rejected, conflicts: conflicts, headSeq: head, logID: logID)
    }
}
