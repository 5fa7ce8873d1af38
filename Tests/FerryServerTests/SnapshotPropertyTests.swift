import FerryCore
import FerryServer
import FerryTestKit
import FerryTestSupport
import Testing

/// Random logs, written by several devices with conflicts: a device that applies the newest
/// snapshot's chunks and then pulls from its seq holds exactly the state of replaying the
/// whole log, on every store, also when pushes land while the snapshot is built and between
/// the manifest and the chunk downloads, and after the log below the snapshot is pruned.
@Suite struct SnapshotPropertyTests {
    typealias State = [RecordKey: (fields: RecordFields, seq: Int64)]

    /// A random mutation: upserts (null members kept), patches of some fields (some set to
    /// null), deletes; few keys, so records are written again, deleted and patched back.
    func randomMutation(_ id: Int64, _ random: inout SeededGenerator) -> NewMutation {
        let entity = ["note", "task"][Int.random(in: 0...1, using: &random)]
        let key = "k\(Int.random(in: 0..<12, using: &random))"
        func value() -> JSONValue {
            switch Int.random(in: 0..<6, using: &random) {
            case 0: .null
            case 1: .int(Int64.random(in: -5...5, using: &random))
            case 2: .string(["x", "y", "é", ""][Int.random(in: 0..<4, using: &random)])
            case 3: .object(["n": .int(Int64.random(in: 0...3, using: &random))])
            case 4: .array([.bool(Bool.random(using: &random))])
            default: .bool(Bool.random(using: &random))
            }
        }
        var fields: RecordFields = [:]
        for name in ["a", "b", "c", "d"] where Bool.random(using: &random) { fields[name] = value() }
        let roll = Int.random(in: 0..<100, using: &random)
        let op: MutationOp = roll < 45 ? .upsert : roll < 85 ? .patch : .delete
        return NewMutation(
            clientActionID: id,
            entity: entity,
            entityKey: key,
            op: op,
            payload: op == .delete ? nil : JSONValue.object(fields).serialized(),
            baseSeq: Int64.random(in: 0...3, using: &random),
            clientTimestamp: nil
        )
    }

    /// Appends `count` random mutations in batches of random size from three devices.
    func pushRandom(
        _ count: Int,
        to log: any EventLog,
        space: String,
        ids: inout [String: Int64],
        _ random: inout SeededGenerator
    ) async throws {
        var left = count
        while left > 0 {
            let device = ["dev-a", "dev-b", "dev-c"][Int.random(in: 0..<3, using: &random)]
            let size = min(left, Int.random(in: 1...9, using: &random))
            var mutations: [NewMutation] = []
            for _ in 0..<size {
                ids[device, default: 0] += 1
                mutations.append(randomMutation(ids[device]!, &random))
            }
            _ = try await log.append(AppendBatch(space: space, deviceID: device, sessionID: "s", mutations: mutations))
            left -= size
        }
    }

    /// `state` after the logged mutations, by the protocol's merge rules.
    func replay(_ mutations: [StoredMutation], onto state: inout State) throws {
        for entry in mutations {
            let key = RecordKey(entity: entry.entity, key: entry.entityKey)
            let payload = try entry.payload.map { try JSONValue(parsing: $0).objectValue ?? [:] }
            if let after = RecordMerge.apply(entry.op, payload: payload, to: state[key]?.fields) {
                state[key] = (after, entry.seq)
            } else {
                state[key] = nil
            }
        }
    }

    /// Every mutation of the log above `since`.
    func readAll(_ log: any EventLog, space: String, since: Int64) async throws -> [StoredMutation] {
        var mutations: [StoredMutation] = []
        var cursor = since
        while true {
            let page = try await log.read(space: space, since: cursor, limit: 50, excludingDevice: nil)
            mutations += page.mutations
            cursor = page.latestSeq
            if !page.hasMore { return mutations }
        }
    }

    /// The state a device holds after downloading, checking and applying every chunk of the
    /// newest manifest, then pulling from its seq.
    func bootstrap(_ store: any SnapshotStore, space: String, manifest: SnapshotManifest) async throws -> State {
        var state: State = [:]
        for chunk in manifest.chunks {
            let body = try #require(try await store.chunkBody(id: chunk.id, spaces: [space]))
            #expect(SnapshotChunker.chunkID(of: body) == chunk.id)
            #expect(body.count == chunk.bytes)
            let records = try SnapshotRecord.lines(of: body)
            #expect(records.count == chunk.records)
            for record in records {
                #expect(record.seq <= manifest.snapshotSeq)
                #expect(state[record.key] == nil, "a record is in one chunk only")
                state[record.key] = (try JSONValue(parsing: record.payload).objectValue ?? [:], record.seq)
            }
        }
        try replay(try await readAll(store, space: space, since: manifest.snapshotSeq), onto: &state)
        return state
    }

    func expectSame(_ actual: State, _ expected: State, _ comment: Comment) {
        #expect(actual.count == expected.count, comment)
        for (key, record) in expected {
            #expect(actual[key]?.fields == record.fields, "\(comment): \(key.entity)/\(key.key)")
            #expect(actual[key]?.seq == record.seq, "\(comment): seq of \(key.entity)/\(key.key)")
        }
    }

    @Test(arguments: EventLogFactory.all)
    func bootstrapThenPullEqualsReplay(_ factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            let store = try #require(log as? any SnapshotStore)
            for seed in UInt64(1)...4 {
                let space = "space-\(seed)"
                var random = SeededGenerator(seed: seed)
                var ids: [String: Int64] = [:]
                let policy = SnapshotPolicy(chunkRecords: 1 + Int(seed % 4), chunkBytes: 600)
                let builder = SnapshotBuilder(store: store, policy: policy, statePageSize: 7, scanPageSize: 5)
                var reference: [StoredMutation] = []
                for round in 0..<4 {
                    try await pushRandom(30, to: log, space: space, ids: &ids, &random)
                    // Pushes land while the snapshot is built.
                    var concurrent = random
                    var concurrentIDs = ids
                    async let built = builder.build(space: space)
                    try await pushRandom(15, to: log, space: space, ids: &concurrentIDs, &concurrent)
                    _ = try await built
                    random = concurrent
                    ids = concurrentIDs
                    let manifest = try #require(try await store.newestManifest(space: space))
                    // And between the manifest and the chunk downloads.
                    try await pushRandom(10, to: log, space: space, ids: &ids, &random)
                    reference += try await readAll(log, space: space, since: reference.last?.seq ?? 0)
                    var expected: State = [:]
                    try replay(reference, onto: &expected)
                    let state = try await bootstrap(store, space: space, manifest: manifest)
                    expectSame(state, expected, "seed \(seed), round \(round)")
                }
                // Pruned below the snapshot: the history is gone, the snapshot still gives the state.
                _ = try await builder.build(space: space)
                let manifest = try #require(try await store.newestManifest(space: space))
                let pruned = try await store.prune(space: space, through: manifest.snapshotSeq, dryRun: false)
                #expect(pruned.floorAfter == manifest.snapshotSeq)
                await #expect(throws: FerryError.self) { _ = try await log.read(space: space, since: 0, limit: 10, excludingDevice: nil) }
                try await pushRandom(10, to: log, space: space, ids: &ids, &random)
                reference += try await readAll(log, space: space, since: reference.last?.seq ?? 0)
                var expected: State = [:]
                try replay(reference, onto: &expected)
                let after = try #require(try await store.newestManifest(space: space))
                #expect(after.floorSeq == manifest.snapshotSeq)
                expectSame(try await bootstrap(store, space: space, manifest: after), expected, "seed \(seed), after pruning")
            }
        }
    }
}
