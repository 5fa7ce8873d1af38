import FerryCore

/// The body of `POST /sync/stream`: `{"space", "device_id", "types"}`.
package struct StreamRequest: JSONReadable, Sendable, Hashable {
    /// The most types one stream may name.
    package static let maxTypes = 100

    /// The space to stream.
    package var space: String
    /// The device whose checkpoints bound the stream.
    package var deviceID: String
    /// The entity names to stream, without repeats, in the order first named.
    package var types: [String]

    /// A request from typed values.
    /// - Throws: ``FerryError`` `bad_request` naming the value that is wrong.
    package init(space: String, deviceID: String, types: [String]) throws {
        try ProtocolRules.requireValidSpace(space)
        try ProtocolRules.requireValidClientID(deviceID, parameter: "device_id")
        guard !types.isEmpty, types.count <= Self.maxTypes else {
            throw FerryError(.badRequest, "types must be a list of 1 to \(Self.maxTypes) entity names; it has \(types.count)")
        }
        var seen = Set<String>()
        var unique: [String] = []
        for type in types {
            guard ProtocolRules.isValidEntity(type) else {
                throw FerryError(.badRequest, "types: '\(type.prefix(80))' is not an entity name (^[A-Za-z][A-Za-z0-9_.-]{0,63}$)")
            }
            if seen.insert(type).inserted { unique.append(type) }
        }
        self.space = space
        self.deviceID = deviceID
        self.types = unique
    }

    /// Reads the request's JSON body.
    /// - Throws: ``JSONReadError`` or ``FerryError``, both answered `400`.
    package init(json reader: inout JSONReader) throws {
        var space: String?
        var device: String?
        var types: [String]?
        try reader.readMembers { reader, key in
            switch key {
            case "space": space = try reader.readString()
            case "device_id": device = try reader.readString()
            case "types":
                var list: [String] = []
                try reader.readArray { reader, _ in list.append(try reader.readString()) }
                types = list
            default: try reader.skipValue()
            }
        }
        guard let space else { throw reader.missing("space") }
        guard let device else { throw reader.missing("device_id") }
        guard let types else { throw reader.missing("types") }
        try self.init(space: space, deviceID: device, types: types)
    }
}

/// The body of `POST /sync/ack`: `{"space", "device_id", "acks"}`, the acks still as text.
package struct AckRequest: JSONReadable, Sendable, Hashable {
    /// The space.
    package var space: String
    /// The device whose checkpoints move.
    package var deviceID: String
    /// The acks as sent, checked by ``SyncEndpoints/acknowledge(_:authorize:)``.
    package var acks: [String]

    /// A request from typed values; the acks are checked when acknowledged.
    package init(space: String, deviceID: String, acks: [String]) {
        self.space = space
        self.deviceID = deviceID
        self.acks = acks
    }

    /// Reads the request's JSON body.
    /// - Throws: ``JSONReadError`` naming a member that is missing or ill-typed.
    package init(json reader: inout JSONReader) throws {
        var space: String?
        var device: String?
        var acks: [String]?
        try reader.readMembers { reader, key in
            switch key {
            case "space": space = try reader.readString()
            case "device_id": device = try reader.readString()
            case "acks":
                var list: [String] = []
                try reader.readArray { reader, _ in list.append(try reader.readString()) }
                acks = list
            default: try reader.skipValue()
            }
        }
        guard let space else { throw reader.missing("space") }
        guard let device else { throw reader.missing("device_id") }
        guard let acks else { throw reader.missing("acks") }
        self.init(space: space, deviceID: device, acks: acks)
    }
}
