import FerryCore
import FerryLog
import FerryServer
import FerryTestSupport
import Testing

private func note(_ id: Int64, entity: String = "note") -> NewMutation {
    NewMutation(
        clientActionID: id,
        entity: entity,
        entityKey: "k\(id)",
        op: .upsert,
        payload: JSONValue.object(["v": .int(id)]).serialized(),
        baseSeq: nil,
        clientTimestamp: nil
    )
}

/// Appends one mutation per entity in `entities`, in order, to `space`; seqs follow the head.
private func append(_ entities: [String], to space: String, in log: any EventLog, device: String = "writer") async throws {
    let start = Int64(Int.random(in: 1...1_000_000_000))
    let mutations = entities.enumerated().map { note(start + Int64($0.offset), entity: $0.element) }
    _ = try await log.append(AppendBatch(space: space, deviceID: device, sessionID: "s\(start)", mutations: mutations))
}

extension JSONValue {
    fileprivate subscript(_ key: String) -> JSONValue? { objectValue?[key] }

    fileprivate var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    fileprivate var intValue: Int64? {
        if case .int(let value) = self { return value }
        return nil
    }
}

private let anyone: @Sendable (String) throws -> Void = { _ in }

/// A stream's lines, parsed, and the raw text.
private struct Streamed {
    var lines: [JSONValue]
    var types: [String] { lines.map { $0["type"]?.stringValue ?? "?" } }
    var acks: [String] { lines.map { $0["ack"]?.stringValue ?? "?" } }
    var seqs: [Int64] { lines.dropLast().map { $0["data"]?["seq"]?.intValue ?? -1 } }
}

private func stream(_ endpoints: SyncEndpoints, space: String = "s", device: String = "dev", types: [String]) async throws -> Streamed {
    let lines = try await endpoints.openStream(StreamRequest(space: space, deviceID: device, types: types), authorize: anyone)
    var text: [UInt8] = []
    for try await page in lines {
        #expect(page.bytes.last == UInt8(ascii: "\n"))
        text += page.bytes
    }
    return Streamed(lines: try text.split(separator: UInt8(ascii: "\n")).map { try JSONValue(parsing: $0) })
}

private func ack(_ endpoints: SyncEndpoints, space: String = "s", device: String = "dev", _ acks: [String]) async throws {
    _ = try await endpoints.acknowledge(AckRequest(space: space, deviceID: device, acks: acks), authorize: anyone)
}

private func checkpoints(_ endpoints: SyncEndpoints, space: String = "s", device: String = "dev") async throws -> [String] {
    try await endpoints.checkpoints(space: space, deviceID: device, authorize: anyone).map(\.description)
}

/// The event stream and its checkpoints, on every store: the store's `readStream`,
/// `streamPosition`, `storeCheckpoints` and `clearCheckpoints` through `SyncEndpoints`, whose
/// rules the HTTP routes and `InMemoryEventStream` share.
@Suite struct StreamContractTests {
    private static func endpoints(_ log: any EventLog, pageSize: Int = 3) -> SyncEndpoints {
        SyncEndpoints(eventLog: log, configuration: ServerConfiguration(streamPageSize: pageSize))
    }

    @Test(arguments: EventLogFactory.all)
    func streamsRequestedTypesInSeqOrderAcrossPagesThenCompletes(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            try await append(["note", "task", "note", "tag", "note", "task", "note", "note", "tag"], to: "s", in: log)
            try await append(["note"], to: "other", in: log)
            let endpoints = Self.endpoints(log)
            let streamed = try await stream(endpoints, types: ["task", "note"])
            #expect(streamed.types == ["note", "task", "note", "note", "task", "note", "note", "SyncComplete"])
            #expect(streamed.seqs == [1, 2, 3, 5, 6, 7, 8])
            #expect(streamed.acks == ["note|1", "task|2", "note|3", "note|5", "task|6", "note|7", "note|8", "SyncComplete|9"])
            #expect(streamed.lines.last?["data"] == .object(["head_seq": .int(9)]))
            // The data is the pulled mutation.
            #expect(streamed.lines[1]["data"]?["entity_key"]?.stringValue != nil)
            #expect(streamed.lines[1]["data"]?["payload"]?["v"] != nil)
            #expect(streamed.lines[1]["data"]?["device_id"] == .string("writer"))
        }
    }

    @Test(arguments: EventLogFactory.all)
    func eachTypeStreamsAboveItsOwnCheckpoint(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            try await append(["note", "task", "note", "task", "note", "task"], to: "s", in: log)
            let endpoints = Self.endpoints(log, pageSize: 2)
            try await ack(endpoints, ["note|3", "task|2"])
            let streamed = try await stream(endpoints, types: ["note", "task"])
            #expect(streamed.acks == ["task|4", "note|5", "task|6", "SyncComplete|6"])
            // A type with no checkpoint streams from the start.
            let withTag = try await stream(endpoints, types: ["note", "tag"])
            #expect(withTag.acks == ["note|5", "SyncComplete|6"])
        }
    }

    @Test(arguments: EventLogFactory.all)
    func anEmptyOrUntouchedStreamIsOneSyncCompleteAtTheHead(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            let endpoints = Self.endpoints(log)
            #expect(try await stream(endpoints, space: "fresh", types: ["note"]).acks == ["SyncComplete|0"])
            try await append(["task", "task"], to: "s", in: log)
            #expect(try await stream(endpoints, types: ["note"]).acks == ["SyncComplete|2"])
        }
    }

    @Test(arguments: EventLogFactory.all)
    func mutationsCommittedAfterTheStreamBeganWaitForTheNextStream(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            try await append(["note", "note", "note", "note"], to: "s", in: log)
            let endpoints = Self.endpoints(log, pageSize: 2)
            let lines = try await endpoints.openStream(StreamRequest(space: "s", deviceID: "dev", types: ["note"]), authorize: anyone)
            var iterator = lines.makeAsyncIterator()
            let first = try await iterator.next()
            #expect(first?.events == 2)
            try await append(["note", "note"], to: "s", in: log)
            var rest: [UInt8] = []
            while let page = try await iterator.next() { rest += page.bytes }
            let text = String(decoding: rest, as: UTF8.self)
            #expect(text.contains(#""ack":"note|4""#))
            #expect(!text.contains(#""ack":"note|5""#))
            #expect(text.hasSuffix("{\"type\":\"SyncComplete\",\"data\":{\"head_seq\":4},\"ack\":\"SyncComplete|4\"}\n"))
            try await ack(endpoints, ["note|4", "SyncComplete|4"])
            #expect(try await stream(endpoints, types: ["note"]).acks == ["note|5", "note|6", "SyncComplete|6"])
        }
    }

    @Test(arguments: EventLogFactory.all)
    func acksAreMaxWinsPerTypeAlsoWithinOneRequest(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            try await append(Array(repeating: "note", count: 10), to: "s", in: log)
            let endpoints = Self.endpoints(log)
            try await ack(endpoints, ["note|7", "note|3", "SyncComplete|9", "task|2"])
            #expect(try await checkpoints(endpoints) == ["SyncComplete|9", "note|7", "task|2"])
            try await ack(endpoints, ["note|5", "SyncComplete|4"])
            #expect(try await checkpoints(endpoints) == ["SyncComplete|9", "note|7", "task|2"])
            try await ack(endpoints, ["note|8"])
            #expect(try await checkpoints(endpoints) == ["SyncComplete|9", "note|8", "task|2"])
        }
    }

    @Test(arguments: EventLogFactory.all)
    func aResetAckClearsFirstThenTheOtherAcksApply(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            try await append(Array(repeating: "note", count: 10), to: "s", in: log)
            let endpoints = Self.endpoints(log)
            try await ack(endpoints, ["note|9", "task|8", "SyncComplete|10"])
            try await ack(endpoints, ["note|2", "SyncReset|0"])
            #expect(try await checkpoints(endpoints) == ["note|2"])
            try await ack(endpoints, ["SyncReset|0"])
            #expect(try await checkpoints(endpoints) == [])
        }
    }

    @Test(arguments: EventLogFactory.all)
    func aBadAckIsNamedAndNoneOfTheRequestIsStored(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            try await append(Array(repeating: "note", count: 5), to: "s", in: log)
            let endpoints = Self.endpoints(log)
            try await ack(endpoints, ["note|1"])
            let cases: [([String], String)] = [
                (["note|2", "note|6", "bad"], "acks[1]"),
                (["note|2", "note-3", "note|9"], "acks[1]"),
                (["note|2", "note|03"], "acks[1]"),
                (["note|0"], "acks[0]"),
                (["SyncReset|1"], "acks[0]"),
                (["SyncComplete|0"], "acks[0]"),
                (["note|2|3"], "acks[0]"),
                (["|2"], "acks[0]"),
                (["note|+2"], "acks[0]"),
                (["note|99999999999999999999"], "acks[0]"),
                ([], "1 to 1000"),
            ]
            for (acks, named) in cases {
                do {
                    try await ack(endpoints, acks)
                    Issue.record("\(acks) was accepted")
                } catch let error as FerryError {
                    #expect(error.code == .badRequest)
                    #expect(error.message.contains(named), "\(acks): \(error.message)")
                }
            }
            let tooMany = Array(repeating: "note|1", count: 1001)
            await #expect(throws: FerryError.self) { try await ack(endpoints, tooMany) }
            #expect(try await checkpoints(endpoints) == ["note|1"])
        }
    }

    @Test(arguments: EventLogFactory.all)
    func devicesAndSpacesKeepTheirOwnCheckpoints(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            try await append(["note", "note", "note"], to: "s", in: log)
            try await append(["note", "note", "note"], to: "t", in: log)
            let endpoints = Self.endpoints(log)
            try await ack(endpoints, device: "a", ["note|2"])
            try await ack(endpoints, space: "t", device: "a", ["note|1"])
            #expect(try await stream(endpoints, device: "a", types: ["note"]).acks == ["note|3", "SyncComplete|3"])
            #expect(try await stream(endpoints, device: "b", types: ["note"]).acks == ["note|1", "note|2", "note|3", "SyncComplete|3"])
            #expect(try await checkpoints(endpoints, space: "t", device: "a") == ["note|1"])
            #expect(try await checkpoints(endpoints, device: "b") == [])
        }
    }

    @Test(arguments: EventLogFactory.all)
    func clearingForgetsAllOrSomeTypes(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            try await append(["note", "task", "tag"], to: "s", in: log)
            let endpoints = Self.endpoints(log)
            try await ack(endpoints, ["note|1", "task|2", "tag|3", "SyncComplete|3"])
            try await endpoints.clearCheckpoints(space: "s", deviceID: "dev", types: ["task", "SyncComplete"], authorize: anyone)
            #expect(try await checkpoints(endpoints) == ["note|1", "tag|3"])
            try await endpoints.clearCheckpoints(space: "s", deviceID: "dev", types: nil, authorize: anyone)
            #expect(try await checkpoints(endpoints) == [])
            await #expect(throws: FerryError.self) {
                try await endpoints.clearCheckpoints(space: "s", deviceID: "dev", types: ["no|pe"], authorize: anyone)
            }
        }
    }

    @Test(arguments: EventLogFactory.all)
    func aCheckpointAboveTheHeadOrOfAnotherLogStreamsOneSyncReset(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            try await append(["note", "task"], to: "s", in: log)
            let endpoints = Self.endpoints(log)
            let position = try await log.streamPosition(space: "s", deviceID: "dev")
            // As a log restored from an older backup leaves it: a checkpoint above the head.
            try await log.storeCheckpoints(
                CheckpointUpdate(
                    space: "s",
                    deviceID: "dev",
                    logID: position.logID,
                    merged: StreamAck.Merged([try StreamAck(type: "note", seq: 9)])
                )
            )
            let reset = try await stream(endpoints, types: ["task", "note"])
            #expect(reset.lines == [.object(["type": .string("SyncReset"), "data": .object([:]), "ack": .string("SyncReset|0")])])
            // Only the requested types' checkpoints count.
            #expect(try await stream(endpoints, types: ["task"]).acks == ["task|2", "SyncComplete|2"])
            try await ack(endpoints, ["SyncReset|0"])
            #expect(try await stream(endpoints, types: ["note", "task"]).acks == ["note|1", "task|2", "SyncComplete|2"])

            // As a replaced log leaves it: a checkpoint stored against another log id.
            try await log.storeCheckpoints(
                CheckpointUpdate(
                    space: "s",
                    deviceID: "dev",
                    logID: "an-older-log",
                    merged: StreamAck.Merged([try StreamAck(type: "tag", seq: 1)])
                )
            )
            #expect(try await stream(endpoints, types: ["note"]).acks == ["SyncReset|0"])
            try await ack(endpoints, ["SyncReset|0", "note|1"])
            #expect(try await stream(endpoints, types: ["note"]).acks == ["SyncComplete|2"])
        }
    }

    @Test(arguments: EventLogFactory.all)
    func anAckAboveTheHeadIsRefused(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            try await append(["note", "note"], to: "s", in: log)
            let endpoints = Self.endpoints(log)
            do {
                try await ack(endpoints, ["note|1", "SyncComplete|3"])
                Issue.record("an ack above the head was accepted")
            } catch let error as FerryError {
                #expect(error.code == .badRequest)
                #expect(error.message.contains("acks[1]") && error.message.contains("above the head"))
            }
            #expect(try await checkpoints(endpoints) == [])
        }
    }

    @Test func sqliteCheckpointsSurviveARestart() async throws {
        let folder = try TemporaryFolder()
        let configuration = SQLiteConfiguration(path: folder.path("log.sqlite"))
        do {
            let log = SQLiteEventLog(database: try SQLiteDatabase(configuration: configuration))
            try await append(["note", "note", "note"], to: "s", in: log)
            try await ack(Self.endpoints(log), ["note|2", "SyncComplete|3"])
        }
        let reopened = SQLiteEventLog(database: try SQLiteDatabase(configuration: configuration))
        let endpoints = Self.endpoints(reopened)
        #expect(try await checkpoints(endpoints) == ["SyncComplete|3", "note|2"])
        #expect(try await stream(endpoints, types: ["note"]).acks == ["note|3", "SyncComplete|3"])
    }

    @Test func aReplacedMemoryLogResetsItsDevices() async throws {
        let log = MemoryEventLog()
        try await append(["note", "note"], to: "s", in: log)
        let endpoints = Self.endpoints(log)
        try await ack(endpoints, ["note|1"])
        log.replaceLog(of: "s")
        try await append(["note", "note", "note"], to: "s", in: log)
        #expect(try await stream(endpoints, types: ["note"]).acks == ["SyncReset|0"])
    }

    @Test func streamRequestsAreChecked() throws {
        #expect(throws: FerryError.self) { try StreamRequest(space: "s", deviceID: "d", types: []) }
        #expect(throws: FerryError.self) { try StreamRequest(space: "s", deviceID: "d", types: Array(repeating: "n", count: 101)) }
        #expect(throws: FerryError.self) { try StreamRequest(space: "s", deviceID: "d", types: ["9note"]) }
        #expect(throws: FerryError.self) { try StreamRequest(space: "S", deviceID: "d", types: ["note"]) }
        #expect(throws: FerryError.self) { try StreamRequest(space: "s", deviceID: "", types: ["note"]) }
        #expect(try StreamRequest(space: "s", deviceID: "d", types: ["note", "task", "note"]).types == ["note", "task"])
        #expect(throws: (any Error).self) { try StreamRequest(jsonBytes: Array(#"{"space":"s","device_id":"d"}"#.utf8)) }
        #expect(throws: (any Error).self) { try StreamRequest(jsonBytes: Array(#"{"space":"s","device_id":"d","types":"note"}"#.utf8)) }
    }
}
