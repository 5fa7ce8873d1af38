import FerryCore
import FerryServer
import FerryTestSupport
import Testing

/// Runs `body` on a fresh store of `factory`, seen both as its ``EventLog`` and as its
/// ``SnapshotStore``; a store that is no snapshot store fails the test.
private func withStore(
    _ factory: EventLogFactory,
    clock: WallClock = .system,
    _ body: @escaping @Sendable (any EventLog, any SnapshotStore) async throws -> Void
) async throws {
    try await factory.with(clock: clock) { log, _ in
        guard let store = log as? any SnapshotStore else {
            Issue.record("the \(factory.name) store is no SnapshotStore")
            return
        }
        try await body(log, store)
    }
}

private func record(_ entity: String, _ key: String, seq: Int64 = 1, value: Int = 1) -> StateRecord {
    StateRecord(entity: entity, entityKey: key, payload: Array(#"{"v":\#(value)}"#.utf8), seq: seq)
}

/// Pushes one upsert per client action id of `ids`, in order.
@discardableResult
private func push(
    _ log: any EventLog,
    in space: String = "s",
    device: String = "dev-a",
    session: String = "s1",
    _ ids: [Int64]
) async throws -> [AppendOutcome] {
    let mutations = ids.map { id in
        NewMutation(
            clientActionID: id,
            entity: "note",
            entityKey: "n\(id)",
            op: .upsert,
            payload: Array(#"{"v":\#(id)}"#.utf8),
            baseSeq: nil,
            clientTimestamp: nil
        )
    }
    return try await log.append(AppendBatch(space: space, deviceID: device, sessionID: session, mutations: mutations)).outcomes
}

/// A chunk id of the right form: `n` in 64 hex digits.
private func chunkID(_ n: Int) -> String {
    let hex = String(n, radix: 16)
    return String(repeating: "0", count: 64 - hex.count) + hex
}

private func body(_ n: Int) -> [UInt8] {
    Array(#"{"entity":"note","entity_key":"n\#(n)","payload":{},"seq":1}"#.utf8) + [UInt8(ascii: "\n")]
}

/// Moves the space's state to `seq` (writing nothing), stores the chunks `chunks` at
/// `milliseconds` and publishes a manifest of them; answers the manifest as published.
@discardableResult
private func snapshot(
    _ store: any SnapshotStore,
    _ space: String = "s",
    at seq: Int64,
    chunks: [Int] = [1],
    time milliseconds: Int64 = 1_000
) async throws -> SnapshotManifest {
    let status = try await store.snapshotStatus(space: space)
    if status.stateSeq != seq {
        try await store.updateState(space: space, from: status.stateSeq, to: seq, upserts: [], deletes: [])
    }
    var entries: [SnapshotManifest.Chunk] = []
    for chunk in chunks {
        let created = try await store.storeChunk(space: space, id: chunkID(chunk), records: 1, body: body(chunk), at: milliseconds)
        entries.append(SnapshotManifest.Chunk(id: chunkID(chunk), records: 1, bytes: body(chunk).count, createdAtMilliseconds: created))
    }
    let manifest = SnapshotManifest(logID: status.logID, snapshotSeq: seq, floorSeq: 0, chunks: entries)
    let published = try await store.publishManifest(space: space, manifest: manifest, at: milliseconds)
    #expect(published, "the manifest at \(seq) must be published")
    return manifest
}

private func seqs(_ outcomes: [AppendOutcome]) -> [Int64] {
    outcomes.map {
        switch $0 {
        case .stored(let seq): seq
        case .duplicate(let seq): -seq
        }
    }
}

/// The promises of ``SnapshotStore`` and the retention rules of ``EventLog`` reads and
/// pushes, run against every store so that they cannot drift.
@Suite struct SnapshotStoreContractTests {
    @Test(arguments: EventLogFactory.all)
    func anUnknownSpaceAnswersZerosAndCreatesNothing(factory: EventLogFactory) async throws {
        try await withStore(factory) { _, store in
            #expect(
                try await store.snapshotStatus(space: "ghost")
                    == SnapshotStatus(headSeq: 0, logID: "", floorSeq: 0, stateSeq: 0, snapshotSeq: 0)
            )
            #expect(try await store.newestManifest(space: "ghost") == nil)
            #expect(try await store.scanState(space: "ghost", after: nil, limit: 10).isEmpty)
            #expect(try await store.stateRecords(space: "ghost", keys: [RecordKey(entity: "note", key: "n1")]).isEmpty)
            #expect(try await store.seqCommitted(space: "ghost", atOrBefore: .max) == 0)
            let pruned = try await store.prune(space: "ghost", through: 10, dryRun: false)
            #expect(pruned.floorAfter == 0 && pruned.mutationsDeleted == 0)
            #expect(try await store.chunkBody(id: chunkID(1), spaces: ["ghost"]) == nil)
            #expect(try await store.logSizes().isEmpty)
            #expect(try await store.snapshotStatus(space: "ghost").logID == "")
        }
    }

    @Test(arguments: EventLogFactory.all)
    func updateStateIsACompareAndSetOfTheStateSeq(factory: EventLogFactory) async throws {
        try await withStore(factory) { log, store in
            try await push(log, [1, 2, 3])
            let a = RecordKey(entity: "note", key: "a")
            let b = RecordKey(entity: "note", key: "b")
            let c = RecordKey(entity: "task", key: "c")
            try await store.updateState(
                space: "s",
                from: 0,
                to: 2,
                upserts: [record("note", "a"), record("note", "b", seq: 2)],
                deletes: []
            )
            let status = try await store.snapshotStatus(space: "s")
            #expect(status.stateSeq == 2 && status.headSeq == 3 && !status.logID.isEmpty)

            // A builder that read the state at 0 comes too late: nothing it sends is written.
            let error = await #expect(throws: FerryError.self) {
                try await store.updateState(space: "s", from: 0, to: 3, upserts: [record("task", "c", seq: 3)], deletes: [a])
            }
            #expect(error?.code == .conflict)
            #expect(try await store.snapshotStatus(space: "s").stateSeq == 2)
            #expect(try await store.stateRecords(space: "s", keys: [a, b, c]) == [a: record("note", "a"), b: record("note", "b", seq: 2)])

            try await store.updateState(
                space: "s",
                from: 2,
                to: 3,
                upserts: [record("note", "b", seq: 3, value: 9), record("task", "c", seq: 3)],
                deletes: [a]
            )
            #expect(try await store.snapshotStatus(space: "s").stateSeq == 3)
            #expect(
                try await store.stateRecords(space: "s", keys: [a, b, c])
                    == [b: record("note", "b", seq: 3, value: 9), c: record("task", "c", seq: 3)]
            )
            // Deletes go first, then upserts; the last upsert of a key wins.
            try await store.updateState(
                space: "s",
                from: 3,
                to: 4,
                upserts: [record("note", "a", seq: 4), record("task", "c", seq: 4), record("task", "c", seq: 4, value: 7)],
                deletes: [a, b]
            )
            #expect(
                try await store.stateRecords(space: "s", keys: [a, b, c])
                    == [a: record("note", "a", seq: 4), c: record("task", "c", seq: 4, value: 7)]
            )
            // The state of one space is not another's.
            try await push(log, in: "other", [1])
            #expect(try await store.stateRecords(space: "other", keys: [b, c]).isEmpty)
        }
    }

    @Test(arguments: EventLogFactory.all)
    func scanStateListsKeysInUTF8ByteOrderAcrossEntitiesAndPages(factory: EventLogFactory) async throws {
        try await withStore(factory) { log, store in
            try await push(log, [1])
            try await push(log, in: "other", [1])
            // UTF-8 byte order: uppercase before lowercase, a prefix before its extensions,
            // non-ASCII after ASCII, by code point.
            let expected: [RecordKey] =
                ["B", "Z", "a", "ab", "b", "z", "é", "€", "𝄞"].map { RecordKey(entity: "Note", key: $0) }
                + ["B", "a", "é"].map { RecordKey(entity: "note", key: $0) }
                + ["a"].map { RecordKey(entity: "nöte", key: $0) }
            #expect(expected == expected.sorted())
            var shuffled = expected
            shuffled.shuffle()
            try await store.updateState(
                space: "s",
                from: 0,
                to: 1,
                upserts: shuffled.map { record($0.entity, $0.key) },
                deletes: []
            )
            try await store.updateState(space: "other", from: 0, to: 1, upserts: [record("Note", "A")], deletes: [])

            let all = try await store.scanState(space: "s", after: nil, limit: 100)
            #expect(all.map(\.key) == expected)
            #expect(all.first == record("Note", "B"))

            var paged: [RecordKey] = []
            var after: RecordKey?
            while true {
                let page = try await store.scanState(space: "s", after: after, limit: 4)
                #expect(page.count <= 4)
                guard let last = page.last else { break }
                paged += page.map(\.key)
                after = last.key
            }
            #expect(paged == expected)
            // `after` need not be a key the state holds.
            let fromGap = try await store.scanState(space: "s", after: RecordKey(entity: "Note", key: "c"), limit: 3)
            #expect(fromGap.map(\.key.key) == ["z", "é", "€"])
            let fromEntityGap = try await store.scanState(space: "s", after: RecordKey(entity: "Notf", key: ""), limit: 2)
            #expect(fromEntityGap.map(\.key) == [RecordKey(entity: "note", key: "B"), RecordKey(entity: "note", key: "a")])
        }
    }

    @Test(arguments: EventLogFactory.all)
    func storingAChunkAgainKeepsItsFirstCreationTime(factory: EventLogFactory) async throws {
        try await withStore(factory) { log, store in
            try await push(log, [1])
            try await push(log, in: "other", [1])
            #expect(try await store.storeChunk(space: "s", id: chunkID(7), records: 1, body: body(7), at: 1_000) == 1_000)
            #expect(try await store.storeChunk(space: "s", id: chunkID(7), records: 1, body: body(7), at: 5_000) == 1_000)
            // Chunks are stored per space.
            #expect(try await store.storeChunk(space: "other", id: chunkID(7), records: 1, body: body(7), at: 6_000) == 6_000)
        }
    }

    @Test(arguments: EventLogFactory.all)
    func aManifestIsPublishedOnlyAtTheStateSeqOfItsLog(factory: EventLogFactory) async throws {
        try await withStore(factory) { log, store in
            try await push(log, [1, 2, 3, 4, 5])
            let logID = try await store.snapshotStatus(space: "s").logID
            try await store.updateState(space: "s", from: 0, to: 3, upserts: [record("note", "n1")], deletes: [])
            let created = try await store.storeChunk(space: "s", id: chunkID(1), records: 1, body: body(1), at: 100)
            let chunk = SnapshotManifest.Chunk(id: chunkID(1), records: 1, bytes: body(1).count, createdAtMilliseconds: created)

            // The state moved past the manifest's seq, or the log is another one: refused.
            let behind = SnapshotManifest(logID: logID, snapshotSeq: 2, floorSeq: 0, chunks: [chunk])
            #expect(try await store.publishManifest(space: "s", manifest: behind, at: 200) == false)
            let otherLog = SnapshotManifest(logID: "another-log", snapshotSeq: 3, floorSeq: 0, chunks: [chunk])
            #expect(try await store.publishManifest(space: "s", manifest: otherLog, at: 200) == false)
            #expect(try await store.newestManifest(space: "s") == nil)
            #expect(try await store.snapshotStatus(space: "s").snapshotSeq == 0)

            let first = SnapshotManifest(logID: logID, snapshotSeq: 3, floorSeq: 0, chunks: [chunk])
            #expect(try await store.publishManifest(space: "s", manifest: first, at: 200))
            #expect(try await store.newestManifest(space: "s") == first)
            #expect(try await store.snapshotStatus(space: "s").snapshotSeq == 3)

            try await store.updateState(space: "s", from: 3, to: 5, upserts: [], deletes: [])
            let second = try await snapshot(store, at: 5, chunks: [1, 2], time: 300)
            let newest = try #require(try await store.newestManifest(space: "s"))
            #expect(newest.snapshotSeq == 5 && newest.logID == logID && newest.floorSeq == 0 && newest.version == 1)
            #expect(newest.chunks == second.chunks)
            // The chunk stored before keeps its creation time.
            #expect(newest.chunks.map(\.createdAtMilliseconds) == [100, 300])
            let status = try await store.snapshotStatus(space: "s")
            #expect(status == SnapshotStatus(headSeq: 5, logID: logID, floorSeq: 0, stateSeq: 5, snapshotSeq: 5))
        }
    }

    @Test(arguments: EventLogFactory.all)
    func aChunkIsServedOnlyToItsSpacesWhileAKeptManifestNamesIt(factory: EventLogFactory) async throws {
        try await withStore(factory) { log, store in
            try await push(log, in: "a", [1, 2])
            try await push(log, in: "b", [1])
            try await snapshot(store, "a", at: 1, chunks: [1], time: 100)
            #expect(try await store.chunkBody(id: chunkID(1), spaces: ["a"]) == body(1))
            #expect(try await store.chunkBody(id: chunkID(1), spaces: ["b", "a"]) == body(1))
            #expect(try await store.chunkBody(id: chunkID(1), spaces: ["b"]) == nil)
            #expect(try await store.chunkBody(id: chunkID(1), spaces: []) == nil)
            #expect(try await store.chunkBody(id: chunkID(99), spaces: ["a"]) == nil)
            // Stored, but named by no manifest.
            _ = try await store.storeChunk(space: "a", id: chunkID(3), records: 1, body: body(3), at: 100)
            #expect(try await store.chunkBody(id: chunkID(3), spaces: ["a"]) == nil)

            // Superseded but kept: still served, until collected.
            try await snapshot(store, "a", at: 2, chunks: [2], time: 200)
            #expect(try await store.chunkBody(id: chunkID(1), spaces: ["a"]) == body(1))
            #expect(try await store.chunkBody(id: chunkID(2), spaces: ["a"]) == body(2))
            let collected = try await store.collectSnapshots(supersededBefore: 201)
            #expect(collected.manifests == 1)
            #expect(try await store.chunkBody(id: chunkID(1), spaces: ["a"]) == nil)
            #expect(try await store.chunkBody(id: chunkID(2), spaces: ["a"]) == body(2))
        }
    }

    @Test(arguments: EventLogFactory.all)
    func collectionKeepsTheNewestManifestAndSharedChunks(factory: EventLogFactory) async throws {
        try await withStore(factory) { log, store in
            try await push(log, [1, 2, 3])
            try await push(log, in: "other", [1])
            try await snapshot(store, at: 1, chunks: [1, 2], time: 100)
            try await snapshot(store, at: 2, chunks: [2, 3], time: 200)
            let newest = try await snapshot(store, at: 3, chunks: [3, 4], time: 300)
            try await snapshot(store, "other", at: 1, chunks: [1], time: 100)

            // Only the first was superseded before 250: its chunk 1 goes, chunk 2 is still named.
            #expect(try await store.collectSnapshots(supersededBefore: 250) == SnapshotCollection(manifests: 1, chunks: 1))
            #expect(try await store.chunkBody(id: chunkID(1), spaces: ["s"]) == nil)
            #expect(try await store.chunkBody(id: chunkID(2), spaces: ["s"]) == body(2))
            // The other space's chunk of the same id is its own, and its manifest the newest.
            #expect(try await store.chunkBody(id: chunkID(1), spaces: ["other"]) == body(1))

            #expect(try await store.collectSnapshots(supersededBefore: 1_000_000) == SnapshotCollection(manifests: 1, chunks: 1))
            #expect(try await store.collectSnapshots(supersededBefore: 1_000_000) == SnapshotCollection(manifests: 0, chunks: 0))
            #expect(try await store.newestManifest(space: "s")?.chunks == newest.chunks)
            #expect(try await store.newestManifest(space: "other")?.snapshotSeq == 1)
            #expect(try await store.chunkBody(id: chunkID(2), spaces: ["s"]) == nil)
            #expect(try await store.chunkBody(id: chunkID(3), spaces: ["s"]) == body(3))
            #expect(try await store.chunkBody(id: chunkID(4), spaces: ["s"]) == body(4))
            #expect(try await store.chunkBody(id: chunkID(1), spaces: ["other"]) == body(1))
        }
    }

    /// Seqs 1–10: dev-a/s1 ids 1–4 (seqs 1–4), dev-b ids 10–11 (5–6), dev-a/s1 ids 5 and 7
    /// (7–8), dev-a/s1 id 1000 (9), dev-b id 12 (10).
    private static func pushScattered(_ log: any EventLog) async throws {
        #expect(seqs(try await push(log, [1, 2, 3, 4])) == [1, 2, 3, 4])
        #expect(seqs(try await push(log, device: "dev-b", [10, 11])) == [5, 6])
        #expect(seqs(try await push(log, [5, 7])) == [7, 8])
        #expect(seqs(try await push(log, [1000])) == [9])
        #expect(seqs(try await push(log, device: "dev-b", [12])) == [10])
    }

    @Test(arguments: EventLogFactory.all)
    func pruningClampsToTheSnapshotAndADryRunChangesNothing(factory: EventLogFactory) async throws {
        try await withStore(factory) { log, store in
            try await Self.pushScattered(log)
            // No snapshot: nothing may go.
            let nothing = try await store.prune(space: "s", through: 8, dryRun: false)
            #expect(nothing == PruneOutcome(space: "s", floorBefore: 0, floorAfter: 0, mutationsDeleted: 0, tripleRuns: 0))

            try await snapshot(store, at: 8)
            // Runs: dev-a/s1 1–4 at 1; 5 at 7; 7 at 8 (ids not consecutive); dev-b 10–11 at 5.
            let expected = PruneOutcome(space: "s", floorBefore: 0, floorAfter: 8, mutationsDeleted: 8, tripleRuns: 4)
            #expect(try await store.prune(space: "s", through: 100, dryRun: true) == expected)
            #expect(try await store.snapshotStatus(space: "s").floorSeq == 0)
            #expect(try await log.read(space: "s", since: 0, limit: 100, excludingDevice: nil).mutations.count == 10)

            #expect(try await store.prune(space: "s", through: 100, dryRun: false) == expected)
            let status = try await store.snapshotStatus(space: "s")
            #expect(status.floorSeq == 8 && status.headSeq == 10 && status.snapshotSeq == 8)
            #expect(try await store.newestManifest(space: "s")?.floorSeq == 8)
            #expect(try await store.logSizes() == [SpaceLogSize(space: "s", headSeq: 10, floorSeq: 8, snapshotSeq: 8)])

            // Never below the current floor.
            let below = try await store.prune(space: "s", through: 5, dryRun: false)
            #expect(below == PruneOutcome(space: "s", floorBefore: 8, floorAfter: 8, mutationsDeleted: 0, tripleRuns: 0))
            #expect(try await store.snapshotStatus(space: "s").floorSeq == 8)
        }
    }

    @Test(arguments: EventLogFactory.all)
    func readsBelowTheFloorAreHistoryPruned(factory: EventLogFactory) async throws {
        try await withStore(factory) { log, store in
            try await Self.pushScattered(log)
            let fresh = try await log.read(space: "s", since: 0, limit: 100, excludingDevice: nil)
            #expect(fresh.floorSeq == 0)
            try await snapshot(store, at: 8)
            _ = try await store.prune(space: "s", through: 8, dryRun: false)

            for since: Int64 in [0, 7] {
                let error = await #expect(throws: FerryError.self) {
                    _ = try await log.read(space: "s", since: since, limit: 100, excludingDevice: nil)
                }
                #expect(error?.code == .historyPruned)
                #expect(error?.floorSeq == 8)
            }
            let page = try await log.read(space: "s", since: 8, limit: 100, excludingDevice: nil)
            #expect(page.mutations.map(\.seq) == [9, 10])
            #expect(page.floorSeq == 8 && page.headSeq == 10 && page.logID == fresh.logID)
            let excluding = try await log.read(space: "s", since: 8, limit: 100, excludingDevice: "dev-b")
            #expect(excluding.mutations.map(\.seq) == [9] && excluding.floorSeq == 8)
            // Above the head is still cursor_ahead.
            let ahead = await #expect(throws: FerryError.self) {
                _ = try await log.read(space: "s", since: 11, limit: 100, excludingDevice: nil)
            }
            #expect(ahead?.code == .cursorAhead)

            let position = try await log.streamPosition(space: "s", deviceID: "dev-a")
            #expect(position.floorSeq == 8 && position.headSeq == 10)
            // Another space is untouched.
            try await push(log, in: "other", [1])
            #expect(try await log.read(space: "other", since: 0, limit: 10, excludingDevice: nil).floorSeq == 0)
            #expect(try await log.streamPosition(space: "other", deviceID: "dev-a").floorSeq == 0)
        }
    }

    @Test(arguments: EventLogFactory.all)
    func aRetriedPushOfPrunedTriplesIsADuplicateWithItsFirstSeq(factory: EventLogFactory) async throws {
        try await withStore(factory) { log, store in
            try await Self.pushScattered(log)
            try await snapshot(store, at: 8)
            _ = try await store.prune(space: "s", through: 8, dryRun: false)

            #expect(seqs(try await push(log, [1, 2, 3, 4, 5, 7])) == [-1, -2, -3, -4, -7, -8])
            #expect(seqs(try await push(log, device: "dev-b", [11, 10])) == [-6, -5])
            // Scattered, mixed with held and new triples; new ones get the next dense seqs.
            #expect(seqs(try await push(log, [7, 3, 1000, 6])) == [-8, -3, -9, 11])
            #expect(seqs(try await push(log, [8, 9])) == [12, 13])
            // The same ids in another session are other triples.
            #expect(seqs(try await push(log, session: "s2", [1, 2])) == [14, 15])
            #expect(try await store.snapshotStatus(space: "s").headSeq == 15)

            // A second prune keeps its own runs: dev-a/s1 1000 at 9, 6 at 11, 8–9 at 12; dev-b 12 at 10.
            try await snapshot(store, at: 13)
            let outcome = try await store.prune(space: "s", through: 13, dryRun: false)
            #expect(outcome == PruneOutcome(space: "s", floorBefore: 8, floorAfter: 13, mutationsDeleted: 5, tripleRuns: 4))
            #expect(seqs(try await push(log, [9, 6, 1, 1000, 8, 5, 16])) == [-13, -11, -1, -9, -12, -7, 16])
            #expect(seqs(try await push(log, device: "dev-b", [12, 10, 13])) == [-10, -5, 17])
            #expect(seqs(try await push(log, session: "s2", [2, 3])) == [-15, 18])
            let page = try await log.read(space: "s", since: 13, limit: 100, excludingDevice: nil)
            #expect(page.mutations.map(\.seq) == [14, 15, 16, 17, 18])
        }
    }

    @Test(arguments: EventLogFactory.all)
    func seqCommittedFindsTheNewestMutationCommittedByThen(factory: EventLogFactory) async throws {
        let time = ManualWallClock()
        let start = time.clock.nowMilliseconds()
        try await withStore(factory, clock: time.clock) { log, store in
            try await push(log, [1, 2])
            time.advance(seconds: 10)
            try await push(log, [3, 4, 5])
            time.advance(seconds: 10)
            try await push(log, [6])
            try await push(log, in: "other", [1])

            #expect(try await store.seqCommitted(space: "s", atOrBefore: start - 1) == 0)
            #expect(try await store.seqCommitted(space: "s", atOrBefore: start) == 2)
            #expect(try await store.seqCommitted(space: "s", atOrBefore: start + 9_999) == 2)
            #expect(try await store.seqCommitted(space: "s", atOrBefore: start + 10_000) == 5)
            #expect(try await store.seqCommitted(space: "s", atOrBefore: start + 20_000) == 6)
            #expect(try await store.seqCommitted(space: "s", atOrBefore: .max) == 6)
            #expect(try await store.seqCommitted(space: "other", atOrBefore: start + 19_999) == 0)

            // Above a floor, the held mutations answer.
            try await snapshot(store, at: 3)
            _ = try await store.prune(space: "s", through: 3, dryRun: false)
            #expect(try await store.seqCommitted(space: "s", atOrBefore: start + 10_000) == 5)
            #expect(try await store.seqCommitted(space: "s", atOrBefore: start + 20_000) == 6)
            // Before every mutation held: the floor.
            #expect(try await store.seqCommitted(space: "s", atOrBefore: start) == 3)
        }
    }

    @Test(arguments: EventLogFactory.all)
    func logSizesListEverySpaceWithALog(factory: EventLogFactory) async throws {
        try await withStore(factory) { log, store in
            try await push(log, in: "a", [1, 2, 3])
            _ = try await log.read(space: "b", since: 0, limit: 10, excludingDevice: nil)
            try await snapshot(store, "a", at: 2)
            let sizes = try await store.logSizes()
            #expect(sizes.count == 2)
            let bySpace = Dictionary(uniqueKeysWithValues: sizes.map { ($0.space, $0) })
            #expect(bySpace["a"] == SpaceLogSize(space: "a", headSeq: 3, floorSeq: 0, snapshotSeq: 2))
            #expect(bySpace["a"]?.mutations == 3)
            #expect(bySpace["b"] == SpaceLogSize(space: "b", headSeq: 0, floorSeq: 0, snapshotSeq: 0))
            _ = try await store.prune(space: "a", through: 2, dryRun: false)
            #expect(try await store.logSizes().first { $0.space == "a" }?.mutations == 1)
        }
    }

    @Test(arguments: EventLogFactory.all)
    func logSizesOfSomeSpacesAndTheSpacesWrittenSinceLastAsked(factory: EventLogFactory) async throws {
        try await withStore(factory) { log, store in
            #expect(store.takeWrittenSpaces() == nil, "nothing was collected before the first call")
            try await push(log, in: "a", [1, 2])
            try await push(log, in: "c", [1])
            _ = try await log.read(space: "b", since: 0, limit: 10, excludingDevice: nil)
            #expect(store.takeWrittenSpaces() == ["a", "c"])
            #expect(store.takeWrittenSpaces() == [])
            let sizes = try await store.logSizes(of: ["c", "a", "missing"])
            #expect(
                sizes == [
                    SpaceLogSize(space: "a", headSeq: 2, floorSeq: 0, snapshotSeq: 0),
                    SpaceLogSize(space: "c", headSeq: 1, floorSeq: 0, snapshotSeq: 0),
                ]
            )
            #expect(try await store.logSizes(of: []).isEmpty)
            // More names than one statement binds (SQLite's store reads 500 at a time).
            let many = Set((0..<1_200).map { "x\($0)" }).union(["b", "c"])
            #expect(try await store.logSizes(of: many).map(\.space) == ["b", "c"])
        }
    }
}
