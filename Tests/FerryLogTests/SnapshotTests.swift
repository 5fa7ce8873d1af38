import FerryCore
import FerryLog
import FerryTestKit
import Logging
import Synchronization
import Testing

/// A wall clock a test moves by hand.
private final class ManualWallClock: Sendable {
    private let now: Mutex<Int64>
    init(now: Int64) { self.now = Mutex(now) }
    var wallClock: WallClock { WallClock { [self] in now.withLock { $0 } } }
    func advance(seconds: Int64) { now.withLock { $0 += seconds * 1000 } }
}

private func upsert(_ id: Int64, key: String, _ body: String = #"{"v":1}"#) -> NewMutation {
    NewMutation(clientActionID: id, entity: "note", entityKey: key, op: .upsert, payload: Array(body.utf8))
}

private func append(
    _ log: MemoryEventLog,
    _ mutations: [NewMutation],
    space: String = "notes",
    device: String = "dev-a"
) async throws -> AppendResult {
    try await log.append(AppendBatch(space: space, deviceID: device, sessionID: "s1", mutations: mutations))
}

/// Fills `space` with `count` records `r00000`… in batches.
private func fill(_ log: MemoryEventLog, count: Int, space: String = "notes") async throws {
    var id: Int64 = 0
    for start in stride(from: 0, to: count, by: 1000) {
        var batch: [NewMutation] = []
        for index in start..<min(count, start + 1000) {
            id += 1
            let key = "r" + String(repeating: "0", count: 5 - String(index).count) + String(index)
            batch.append(upsert(id, key: key, #"{"title":"record \#(index)"}"#))
        }
        _ = try await append(log, batch, space: space, device: "filler")
    }
}

/// Snapshots, their chunks, retention and the endpoints, on the memory store.
@Suite struct SnapshotTests {
    @Test func chunkBoundariesStayWhereRecordsDidNotChange() async throws {
        let log = MemoryEventLog()
        try await fill(log, count: 3000)
        let builder = SnapshotBuilder(store: log, policy: SnapshotPolicy(chunkRecords: 100, chunkBytes: 1 << 20))
        let first = try #require(try await builder.build(space: "notes"))
        #expect(first.manifest.records == 3000)
        #expect(first.manifest.chunks.allSatisfy { $0.records <= 100 })
        #expect(first.manifest.chunks.count >= 30)
        #expect(first.chunksShared == 0)

        // One record changes, one is added, one deleted: at most three chunks differ.
        _ = try await append(
            log,
            [
                upsert(1, key: "r01500", #"{"title":"changed"}"#),
                upsert(2, key: "r02500x"),
                NewMutation(clientActionID: 3, entity: "note", entityKey: "r00500", op: .delete, payload: nil),
            ]
        )
        let second = try #require(try await builder.build(space: "notes"))
        #expect(second.mutationsApplied == 3, "the state moves from the previous snapshot, not from seq 1")
        #expect(second.manifest.records == 3000)
        let firstIDs = Set(first.manifest.chunks.map(\.id))
        let changed = second.manifest.chunks.filter { !firstIDs.contains($0.id) }.count
        #expect(changed <= 6, "\(changed) chunks changed")
        #expect(second.chunksShared == second.manifest.chunks.count - changed)
        #expect(second.chunksShared >= second.manifest.chunks.count - 6)
    }

    @Test func aChunkHoldsAtMostTheLimitsAndALargeRecordStandsAlone() throws {
        var chunker = SnapshotChunker(maxRecords: 3, maxBytes: 200)
        var cuts: [SnapshotChunker.Cut] = []
        let big = Array(#"{"text":"\#(String(repeating: "x", count: 300))"}"#.utf8)
        for index in 0..<10 {
            let payload = index == 4 ? big : Array(#"{"i":\#(index)}"#.utf8)
            cuts += chunker.add(SnapshotRecord(entity: "note", entityKey: "k\(index)", payload: payload, seq: Int64(index + 1)))
        }
        if let last = chunker.finish() { cuts.append(last) }
        #expect(cuts.reduce(0) { $0 + $1.records } == 10)
        #expect(cuts.allSatisfy { $0.records <= 3 })
        #expect(cuts.allSatisfy { $0.body.count <= 200 || $0.records == 1 })
        #expect(cuts.contains { $0.records == 1 && $0.body.count > 300 })
        for cut in cuts {
            #expect(cut.id == SnapshotChunker.chunkID(of: cut.body))
            #expect(try SnapshotRecord.lines(of: cut.body).count == cut.records)
        }
    }

    @Test func aPatchMergesShallowlyRemovesNullsAndRecreatesADeletedRecord() async throws {
        let log = MemoryEventLog()
        func patch(_ id: Int64, _ body: String) -> NewMutation {
            NewMutation(clientActionID: id, entity: "note", entityKey: "n", op: .patch, payload: Array(body.utf8))
        }
        _ = try await append(
            log,
            [
                upsert(1, key: "n", #"{"a":1,"keep":null,"nested":{"x":1,"y":2}}"#),
                patch(2, #"{"a":null,"b":2,"nested":{"x":3}}"#),
                upsert(3, key: "gone"),
                NewMutation(clientActionID: 4, entity: "note", entityKey: "gone", op: .delete, payload: nil),
                NewMutation(clientActionID: 5, entity: "note", entityKey: "gone", op: .patch, payload: Array(#"{"c":3,"d":null}"#.utf8)),
            ]
        )
        let outcome = try #require(try await SnapshotBuilder(store: log, policy: SnapshotPolicy()).build(space: "notes"))
        let body = try #require(try await log.chunkBody(id: outcome.manifest.chunks[0].id, spaces: ["notes"]))
        let records = Dictionary(uniqueKeysWithValues: try SnapshotRecord.lines(of: body).map { ($0.entityKey, $0) })
        #expect(try JSONValue(parsing: records["n"]!.payload) == .object(["keep": .null, "b": .int(2), "nested": .object(["x": .int(3)])]))
        #expect(records["n"]?.seq == 2)
        #expect(try JSONValue(parsing: records["gone"]!.payload) == .object(["c": .int(3)]))
        #expect(records["gone"]?.seq == 5)
    }

    @Test func theServiceBuildsAfterEveryPushPrunesAndCollects() async throws {
        let clock = ManualWallClock(now: 1_000_000)
        let log = MemoryEventLog(clock: clock.wallClock)
        let service = SnapshotService(
            store: log,
            policy: SnapshotPolicy(every: 1, keep: .seconds(60), retainMutations: 2),
            wallClock: clock.wallClock,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        _ = try await append(log, [upsert(1, key: "a"), upsert(2, key: "b"), upsert(3, key: "c")])
        await service.round()
        let first = try #require(try await log.newestManifest(space: "notes"))
        #expect(first.snapshotSeq == 3)
        #expect(first.floorSeq == 1, "two mutations kept, the rest covered by the snapshot went")
        let pruned = await #expect(throws: FerryError.self) {
            _ = try await log.read(space: "notes", since: 0, limit: 10, excludingDevice: nil)
        }
        #expect(pruned?.code == .historyPruned)
        #expect(pruned?.floorSeq == 1)
        #expect(try await log.read(space: "notes", since: 1, limit: 10, excludingDevice: nil).floorSeq == 1)
        // A retried push of the pruned mutation still gets its first seq.
        let retried = try await append(log, [upsert(1, key: "a")])
        #expect(retried.outcomes == [.duplicate(seq: 1)])

        _ = try await append(log, [upsert(4, key: "a", #"{"v":2}"#)])
        await service.round()
        let second = try #require(try await log.newestManifest(space: "notes"))
        #expect(second.snapshotSeq == 4)
        let oldChunk = try #require(first.chunks.first?.id)
        #expect(!second.chunks.map(\.id).contains(oldChunk))
        #expect(try await log.chunkBody(id: oldChunk, spaces: ["notes"]) != nil, "kept for a device that took the old manifest")
        clock.advance(seconds: 61)
        await service.round()
        #expect(try await log.chunkBody(id: oldChunk, spaces: ["notes"]) == nil, "collected after the keep time")
        #expect(try await log.chunkBody(id: second.chunks[0].id, spaces: ["notes"]) != nil)
        let sizes = try await log.logSizes()
        #expect(sizes.map(\.space) == ["notes"])
        #expect(sizes.first?.floorSeq == 2)
        #expect(sizes.first?.mutations == 2)
    }

    @Test func roundsBetweenSweepsLookOnlyAtTheWrittenSpaces() async throws {
        let log = MemoryEventLog()
        let reports = Mutex<[(spaces: [String], complete: Bool)]>([])
        let service = SnapshotService(
            store: log,
            policy: SnapshotPolicy(every: 1),
            observer: SnapshotService.Observer(sizes: { sizes, complete in
                reports.withLock { $0.append((sizes.map(\.space), complete)) }
            }),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        _ = try await append(log, [upsert(1, key: "a")], space: "a")
        _ = try await append(log, [upsert(1, key: "b")], space: "b")
        // The first round cannot know what was written before it: it looks at every space.
        await service.round(sweeping: false)
        #expect(try await log.newestManifest(space: "a")?.snapshotSeq == 1)
        #expect(try await log.newestManifest(space: "b")?.snapshotSeq == 1)

        _ = try await append(log, [upsert(2, key: "b2")], space: "b")
        await service.round(sweeping: false)
        #expect(try await log.newestManifest(space: "b")?.snapshotSeq == 2, "the written space is looked at")
        await service.round(sweeping: false)
        _ = try await append(log, [upsert(2, key: "a2")], space: "a")
        await service.round(sweeping: true)
        #expect(try await log.newestManifest(space: "a")?.snapshotSeq == 2)

        let seen = reports.withLock { $0 }
        #expect(seen.map(\.spaces) == [["a", "b"], ["b"], ["a", "b"]], "a round with nothing written reads and reports nothing")
        #expect(seen.map(\.complete) == [true, false, true])
    }

    @Test func theMemoryStoreTellsTheSpacesWrittenSinceItWasLastAsked() async throws {
        let log = MemoryEventLog()
        _ = log.takeWrittenSpaces()
        _ = try await append(log, [upsert(1, key: "a")], space: "a")
        #expect(log.takeWrittenSpaces() == ["a"])
        #expect(log.takeWrittenSpaces() == [])
        #expect(try await log.logSizes(of: ["a", "missing"]).map(\.space) == ["a"])
    }

    @Test func theEndpointsServeTheManifestChunksOfTheScopeAndBulkPushes() async throws {
        let log = MemoryEventLog()
        let endpoints = SyncEndpoints(eventLog: log, configuration: ServerConfiguration(bulkMaxBytes: 4096, bulkMaxLines: 5))
        let empty = try await endpoints.manifest(space: "notes") { _ in }
        #expect(empty.snapshotSeq == 0)
        #expect(empty.chunks.isEmpty)

        let lines = [
            #"{"client_action_id":1,"entity":"note","entity_key":"a","op":"upsert","payload":{"t":1}}"#,
            "",
            #"{"client_action_id":2,"entity":"note","entity_key":"b","op":"fly","payload":{}}"#,
            #"{"client_action_id":3,"entity":"note","op":"upsert","payload":{}}"#,
            #"{"client_action_id":4,"entity":"note","entity_key":"c","op":"delete"}"#,
        ]
        let body = Array(lines.joined(separator: "\n").utf8)
        let id = SnapshotChunker.chunkID(of: body)
        let first = try await endpoints.bulkPush(space: "notes", deviceID: "d", sessionID: "import", chunkID: id.uppercased(), body: body) {
            _ in
        }
        #expect(first.response.acks.map(\.seq) == [1, 2])
        #expect(first.response.acks.map(\.clientActionID) == [1, 4])
        #expect(first.response.rejected.map(\.clientActionID) == [2, 3])
        #expect(first.response.rejected.allSatisfy { $0.reason == .invalid })
        let again = try await endpoints.bulkPush(space: "notes", deviceID: "d", sessionID: "import", chunkID: id, body: body) { _ in }
        #expect(again.response.acks.isEmpty)
        #expect(again.response.rejected.filter { $0.reason == .duplicate }.map(\.seq) == [1, 2], "the same seqs")
        #expect(again.response.headSeq == 2)

        for (chunkID, bad, code) in [
            (String(repeating: "0", count: 64), body, FerryError.Code.badRequest),
            (nil, body, .badRequest),
            ("xyz", body, .badRequest),
            (SnapshotChunker.chunkID(of: Array("[1]\n".utf8)), Array("[1]\n".utf8), .badRequest),
            (SnapshotChunker.chunkID(of: Array("{oops\n".utf8)), Array("{oops\n".utf8), .badRequest),
            (SnapshotChunker.chunkID(of: Array(repeating: 0x20, count: 5000)), Array(repeating: 0x20, count: 5000), .payloadTooLarge),
        ] as [(String?, [UInt8], FerryError.Code)] {
            let error = await #expect(throws: FerryError.self) {
                _ = try await endpoints.bulkPush(space: "notes", deviceID: "d", sessionID: "x", chunkID: chunkID, body: bad) { _ in }
            }
            #expect(error?.code == code)
        }
        let six = Array(String(repeating: #"{"client_action_id":9,"entity":"note","entity_key":"z","op":"delete"}"# + "\n", count: 6).utf8)
        let tooMany = await #expect(throws: FerryError.self) {
            _ = try await endpoints.bulkPush(
                space: "notes",
                deviceID: "d",
                sessionID: "x",
                chunkID: SnapshotChunker.chunkID(of: six),
                body: six
            ) { _ in }
        }
        #expect(tooMany?.code == .payloadTooLarge)
        #expect(try await log.snapshotStatus(space: "notes").headSeq == 2, "a refused chunk stores nothing")

        let built = try #require(try await SnapshotBuilder(store: log, policy: SnapshotPolicy()).build(space: "notes"))
        let manifest = try await endpoints.manifest(space: "notes") { _ in }
        #expect(manifest == built.manifest)
        let chunk = try #require(manifest.chunks.first)
        #expect(try await endpoints.chunk(id: chunk.id.uppercased(), scope: ["notes"]).count == chunk.bytes)
        for (id, scope) in [(chunk.id, ["other"]), (String(repeating: "a", count: 64), ["notes"]), ("../x", ["notes"]), (chunk.id, [])] {
            let error = await #expect(throws: FerryError.self) { _ = try await endpoints.chunk(id: id, scope: scope) }
            #expect(error?.code == .notFound)
        }
    }

    @Test func aStreamBelowTheFloorAnswersSyncReset() async throws {
        let log = MemoryEventLog()
        let endpoints = SyncEndpoints(eventLog: log, configuration: ServerConfiguration())
        _ = try await append(log, [upsert(1, key: "a"), upsert(2, key: "b"), upsert(3, key: "c")])
        _ = try await endpoints.acknowledge(AckRequest(space: "notes", deviceID: "dev", acks: ["note|1"])) { _ in }
        _ = try await SnapshotBuilder(store: log, policy: SnapshotPolicy()).build(space: "notes")
        _ = try await log.prune(space: "notes", through: 2, dryRun: false)
        var text: [UInt8] = []
        try await endpoints.openStream(try StreamRequest(space: "notes", deviceID: "dev", types: ["note"])) { _ in }
            .forEachPage { text += $0.bytes }
        #expect(String(decoding: text, as: UTF8.self).contains("SyncReset|0"))
        // After the reset a type without checkpoint streams from the floor.
        _ = try await endpoints.acknowledge(AckRequest(space: "notes", deviceID: "dev", acks: ["SyncReset|0"])) { _ in }
        text = []
        try await endpoints.openStream(try StreamRequest(space: "notes", deviceID: "dev", types: ["note"])) { _ in }
            .forEachPage { text += $0.bytes }
        let acks = String(decoding: text, as: UTF8.self).split(separator: "\n").compactMap { line in
            try? JSONValue(parsing: String(line)).objectValue?["ack"]
        }
        #expect(acks == [.string("note|3"), .string("SyncComplete|3")])
    }

    @Test func aPruneDuringAStreamCutsItShortInsteadOfSkippingMutations() async throws {
        let log = MemoryEventLog()
        let endpoints = SyncEndpoints(eventLog: log, configuration: ServerConfiguration(streamPageSize: 2))
        _ = try await append(log, (1...6).map { upsert(Int64($0), key: "k\($0)") })
        _ = try await SnapshotBuilder(store: log, policy: SnapshotPolicy()).build(space: "notes")
        var pages = try await endpoints.openStream(try StreamRequest(space: "notes", deviceID: "dev", types: ["note"])) { _ in }
            .makeAsyncIterator()
        let first = try #require(try await pages.next())
        #expect(first.events == 2)
        // Seqs 3 and 4, not yet streamed, go.
        _ = try await log.prune(space: "notes", through: 4, dryRun: false)
        let cut = await #expect(throws: FerryError.self) { _ = try await pages.next() }
        #expect(cut?.code == .historyPruned)
    }
}
