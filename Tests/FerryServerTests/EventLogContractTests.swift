import FerryCore
import FerryServer
import FerryTestSupport
import Foundation
import Testing

/// A way to make a fresh, empty store for the contract suite.
struct EventLogFactory: Sendable, CustomTestStringConvertible {
    typealias Body = @Sendable (any EventLog, any TokenStore) async throws -> Void
    var name: String
    var make: @Sendable (WallClock, Body) async throws -> Void

    var testDescription: String { name }

    /// Runs `body` on a fresh log and token store whose commit times and expiries read `clock`.
    func with(clock: WallClock = .system, _ body: @escaping Body) async throws {
        try await make(clock, body)
    }

    static let memory = EventLogFactory(name: "memory") { clock, body in
        try await body(MemoryEventLog(clock: clock), MemoryTokenStore(clock: clock))
    }

    static let sqlite = EventLogFactory(name: "sqlite") { clock, body in
        let folder = try TemporaryFolder()
        let database = try SQLiteDatabase(configuration: SQLiteConfiguration(path: folder.path("log.sqlite")))
        try await body(SQLiteEventLog(database: database, clock: clock), SQLiteTokenStore(database: database, clock: clock))
        _ = folder
    }

    static let postgres = EventLogFactory(name: "postgres") { clock, body in
        try await PostgresTestServer.withStore(clock: clock) { log, tokens, _ in try await body(log, tokens) }
    }

    /// Every store the suite runs against: PostgreSQL when `scripts/test` started one.
    static var all: [EventLogFactory] {
        PostgresTestServer.adminURL == nil ? [.memory, .sqlite] : [.memory, .sqlite, .postgres]
    }
}

/// Under CI the PostgreSQL store is never skipped silently.
@Test func postgresIsThereUnderCI() {
    if PostgresTestServer.isCI {
        #expect(PostgresTestServer.adminURL != nil, "CI=true but FERRY_TEST_POSTGRES_URL is not set: scripts/test must start PostgreSQL")
    }
}

private func mutation(_ id: Int64, key: String = "n1", base: Int64? = nil) -> NewMutation {
    NewMutation(
        clientActionID: id,
        entity: "note",
        entityKey: key,
        op: .upsert,
        payload: JSONValue.object(["v": .int(id)]).serialized(),
        baseSeq: base,
        clientTimestamp: nil
    )
}

private func batch(_ space: String, device: String = "dev-a", session: String = "s1", _ mutations: [NewMutation]) -> AppendBatch {
    AppendBatch(space: space, deviceID: device, sessionID: session, mutations: mutations)
}

private func seqs(_ result: AppendResult) -> [Int64] {
    result.outcomes.map {
        switch $0 {
        case .stored(let seq): seq
        case .duplicate(let seq): -seq
        }
    }
}

/// The promises of ``EventLog``, run against every store so that they cannot drift.
@Suite struct EventLogContractTests {
    @Test(arguments: EventLogFactory.all)
    func seqsAreDensePerSpaceInRequestOrder(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            let first = try await log.append(batch("a", [mutation(1), mutation(2), mutation(3)]))
            let other = try await log.append(batch("b", [mutation(1), mutation(2)]))
            let second = try await log.append(batch("a", [mutation(4)]))
            #expect(seqs(first) == [1, 2, 3])
            #expect(seqs(other) == [1, 2])
            #expect(seqs(second) == [4])
            #expect(second.headSeq == 4)
            #expect(first.logID == second.logID)
            #expect(first.logID != other.logID)
        }
    }

    @Test(arguments: EventLogFactory.all)
    func duplicatesAreFoundAndNotStoredTwice(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            let first = try await log.append(batch("a", [mutation(1), mutation(2)]))
            let again = try await log.append(batch("a", [mutation(1), mutation(2), mutation(3)]))
            #expect(seqs(first) == [1, 2])
            #expect(again.outcomes == [.duplicate(seq: 1), .duplicate(seq: 2), .stored(seq: 3)])
            // The same triple twice in one batch: the first is stored, the second is a duplicate.
            let twice = try await log.append(batch("a", [mutation(9), mutation(9)]))
            #expect(twice.outcomes == [.stored(seq: 4), .duplicate(seq: 4)])
            // Another session of the same device is another triple.
            let otherSession = try await log.append(batch("a", session: "s2", [mutation(1)]))
            #expect(otherSession.outcomes == [.stored(seq: 5)])
            let page = try await log.read(space: "a", since: 0, limit: 100, excludingDevice: nil)
            #expect(page.mutations.map(\.seq) == [1, 2, 3, 4, 5])
        }
    }

    /// Large batches with scattered and repeated ids, records written several times in one
    /// batch by several devices: outcomes, seqs and conflicts are those of applying the rules
    /// mutation by mutation (a model kept here, beside the store).
    @Test(arguments: EventLogFactory.all)
    func largeMixedBatchesFollowTheRulesMutationByMutation(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            var random = SystemRandomNumberGenerator()
            var stored: [String: Int64] = [:]  // "device session id" -> seq
            var heads: [String: RecordHead] = [:]
            var head: Int64 = 0
            for round in 0..<6 {
                let headBefore = head
                let device = ["A", "B", "C"][round % 3]
                let scattered = round % 2 == 1
                let mutations = (0..<250).map { index -> NewMutation in
                    // Ids repeat across rounds (duplicates) and within a batch; scattered ids are far apart.
                    let id = scattered ? Int64.random(in: 1...1_000_000, using: &random) : Int64(round * 100 + index % 230 + 1)
                    return NewMutation(
                        clientActionID: id,
                        entity: index % 3 == 0 ? "task" : "note",
                        entityKey: "k\(Int.random(in: 0..<40, using: &random))",
                        op: .upsert,
                        payload: Array(#"{"v":1}"#.utf8),
                        baseSeq: Int64.random(in: 0...max(0, head), using: &random),
                        clientTimestamp: nil
                    )
                }
                var expectedOutcomes: [AppendOutcome] = []
                var expectedConflicts: [ConflictReport] = []
                for mutation in mutations {
                    let triple = "\(device) s1 \(mutation.clientActionID)"
                    let record = "\(mutation.entity)/\(mutation.entityKey)"
                    if let seq = stored[triple] {
                        expectedOutcomes.append(.duplicate(seq: seq))
                        // A duplicate of an earlier batch is told its conflict while the head shows it.
                        if seq <= headBefore, let current = heads[record], current.deviceID == device, current.otherSeq < seq,
                            let conflict = RecordHead.conflict(
                                clientActionID: mutation.clientActionID,
                                entity: mutation.entity,
                                entityKey: mutation.entityKey,
                                baseSeq: mutation.baseSeq,
                                by: device,
                                head: current
                            )
                        {
                            expectedConflicts.append(conflict)
                        }
                        continue
                    }
                    head += 1
                    stored[triple] = head
                    expectedOutcomes.append(.stored(seq: head))
                    if let conflict = RecordHead.conflict(
                        clientActionID: mutation.clientActionID,
                        entity: mutation.entity,
                        entityKey: mutation.entityKey,
                        baseSeq: mutation.baseSeq,
                        by: device,
                        head: heads[record]
                    ) {
                        expectedConflicts.append(conflict)
                    }
                    heads[record] = RecordHead.after(heads[record], write: head, by: device)
                }
                let result = try await log.append(batch("big", device: device, mutations))
                #expect(result.outcomes == expectedOutcomes, "round \(round)")
                #expect(result.conflicts == expectedConflicts, "round \(round)")
                #expect(result.headSeq == head)
            }
            let page = try await log.read(space: "big", since: 0, limit: 5000, excludingDevice: nil)
            #expect(page.mutations.map(\.seq) == Array(1...head))
        }
    }

    @Test(arguments: EventLogFactory.all)
    func conflictsNameOtherDevicesWritesOnly(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            _ = try await log.append(batch("a", device: "A", [mutation(1, base: 0)]))  // seq 1 by A
            // A writes again on its own version 0: its own earlier write is no conflict.
            let own = try await log.append(batch("a", device: "A", [mutation(2, base: 0)]))  // seq 2
            #expect(own.conflicts.isEmpty)
            // B writes on version 1 while A's latest is 2: conflict against 2.
            let stale = try await log.append(batch("a", device: "B", [mutation(1, base: 1)]))  // seq 3
            #expect(stale.conflicts == [ConflictReport(clientActionID: 1, entity: "note", entityKey: "n1", baseSeq: 1, currentSeq: 2)])
            // B writes on version 2: up to date with A, and its own seq 3 does not count.
            let fresh = try await log.append(batch("a", device: "B", [mutation(2, base: 2)]))  // seq 4
            #expect(fresh.conflicts.isEmpty)
            // A, still on version 2, writes: B's latest write (4) is newer.
            let behind = try await log.append(batch("a", device: "A", [mutation(3, base: 2)]))  // seq 5
            #expect(behind.conflicts.map(\.currentSeq) == [4])
            // A again on version 2: A is now the latest writer, but B's write 4 is still newer than 2.
            let stillBehind = try await log.append(batch("a", device: "A", [mutation(4, base: 2)]))
            #expect(stillBehind.conflicts.map(\.currentSeq) == [4])
            // No base_seq: no conflict check. Another record: independent.
            let noBase = try await log.append(batch("a", device: "B", [mutation(3), mutation(4, key: "n2", base: 0)]))
            #expect(noBase.conflicts.isEmpty)
        }
    }

    /// A push sent again after its answer was lost is told the conflict its mutation met,
    /// as long as no other device wrote the record since (the record's head shows it).
    @Test(arguments: EventLogFactory.all)
    func aDuplicateIsToldTheConflictItMetWhileTheHeadShowsIt(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            _ = try await log.append(batch("a", device: "A", [mutation(1, base: 0)]))  // seq 1 by A
            let first = try await log.append(batch("a", device: "B", [mutation(1, base: 0)]))  // seq 2 by B
            let report = ConflictReport(clientActionID: 1, entity: "note", entityKey: "n1", baseSeq: 0, currentSeq: 1)
            #expect(first.conflicts == [report])
            let again = try await log.append(batch("a", device: "B", [mutation(1, base: 0)]))
            #expect(again.outcomes == [.duplicate(seq: 2)])
            #expect(again.conflicts == [report])
            // B writing the record again keeps the evidence: A's write is still the latest by another device.
            _ = try await log.append(batch("a", device: "B", [mutation(2, base: 2)]))  // seq 3 by B
            #expect(try await log.append(batch("a", device: "B", [mutation(1, base: 0)])).conflicts == [report])
            // Once another device writes the record, the head no longer tells: nothing is reported.
            _ = try await log.append(batch("a", device: "C", [mutation(1, base: 3)]))  // seq 4 by C
            let late = try await log.append(batch("a", device: "B", [mutation(1, base: 0)]))
            #expect(late.outcomes == [.duplicate(seq: 2)])
            #expect(late.conflicts.isEmpty)
        }
    }

    @Test(arguments: EventLogFactory.all)
    func pagesCoverExcludedMutationsAndHasMoreIsExact(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            _ = try await log.append(batch("a", device: "A", (1...4).map { mutation($0) }))
            _ = try await log.append(batch("a", device: "B", [mutation(1)]))

            // A page of only the device's own mutations still advances the cursor.
            let own = try await log.read(space: "a", since: 0, limit: 2, excludingDevice: "A")
            #expect(own.mutations.map(\.seq) == [5])
            #expect(own.latestSeq == 5)
            #expect(!own.hasMore)
            let onlyOwn = try await log.read(space: "a", since: 0, limit: 10, excludingDevice: "B")
            #expect(onlyOwn.mutations.map(\.seq) == [1, 2, 3, 4])
            #expect(onlyOwn.latestSeq == 5)

            // Exactly `limit` left: the page is full and has_more is false.
            let exact = try await log.read(space: "a", since: 0, limit: 5, excludingDevice: nil)
            #expect(exact.mutations.count == 5)
            #expect(exact.latestSeq == 5)
            #expect(!exact.hasMore)
            let short = try await log.read(space: "a", since: 0, limit: 4, excludingDevice: nil)
            #expect(short.latestSeq == 4)
            #expect(short.hasMore)

            // Nothing new: latest equals since.
            let empty = try await log.read(space: "a", since: 5, limit: 10, excludingDevice: nil)
            #expect(empty.mutations.isEmpty)
            #expect(empty.latestSeq == 5)
        }
    }

    @Test(arguments: EventLogFactory.all)
    func readsKeepWhatWasPushed(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            let payload = JSONValue.object([
                "title": .string("Grocer\"ies\n"), "n": .int(-3), "x": .double(1.5), "ok": .bool(true), "none": .null,
                "list": .array([.int(1), .string("é")]),
            ])
            _ = try await log.append(
                batch(
                    "a",
                    [
                        NewMutation(
                            clientActionID: 7,
                            entity: "note",
                            entityKey: "k",
                            op: .patch,
                            payload: payload.serialized(),
                            baseSeq: 0,
                            clientTimestamp: "2026-11-22T10:00:00Z"
                        ),
                        NewMutation(
                            clientActionID: 8,
                            entity: "note",
                            entityKey: "k",
                            op: .delete,
                            payload: nil,
                            baseSeq: nil,
                            clientTimestamp: nil
                        ),
                    ]
                )
            )
            let page = try await log.read(space: "a", since: 0, limit: 10, excludingDevice: nil)
            #expect(page.mutations.count == 2)
            let first = try #require(page.mutations.first)
            // The payload text is kept byte for byte, and reads back as the same value.
            #expect(first.payload == payload.serialized())
            #expect(try first.logged().payload == payload)
            #expect(first.op == .patch)
            #expect(first.deviceID == "dev-a")
            #expect(first.sessionID == "s1")
            #expect(first.baseSeq == 0)
            #expect(first.clientTimestamp == "2026-11-22T10:00:00Z")
            #expect(RFC3339.isValid(try first.logged().occurredAt))
            #expect(page.mutations[1].payload == nil)
            #expect(page.mutations[1].baseSeq == nil)
        }
    }

    @Test(arguments: EventLogFactory.all)
    func cursorAheadAndLogCreatedOnFirstRead(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            let fresh = try await log.read(space: "new", since: 0, limit: 10, excludingDevice: nil)
            #expect(fresh.headSeq == 0)
            let again = try await log.read(space: "new", since: 0, limit: 10, excludingDevice: nil)
            #expect(fresh.logID == again.logID)
            let pushed = try await log.append(batch("new", [mutation(1)]))
            #expect(pushed.logID == fresh.logID)
            await #expect(throws: FerryError.self) {
                _ = try await log.read(space: "new", since: 2, limit: 10, excludingDevice: nil)
            }
            do {
                _ = try await log.read(space: "never", since: 1, limit: 10, excludingDevice: nil)
                Issue.record("a cursor above the head must throw")
            } catch let error as FerryError {
                #expect(error.code == .cursorAhead)
            }
        }
    }

    /// The console's listing: pages of spaces in name order with head, floor, the commit time
    /// of the head mutation and the recent writes; and a space's stored checkpoints.
    @Test(arguments: EventLogFactory.all)
    func spacesAndCheckpointsAreListedInPages(factory: EventLogFactory) async throws {
        let clock = ManualWallClock()
        try await factory.with(clock: clock.clock) { log, _ in
            #expect(try await log.listSpaces(after: nil, limit: 10, recentSince: 0).isEmpty)
            let start = clock.clock.nowMilliseconds()
            _ = try await log.append(batch("b", [mutation(1), mutation(2)]))
            clock.advance(seconds: 120)
            _ = try await log.append(batch("b", [mutation(3)]))
            _ = try await log.read(space: "a", since: 0, limit: 1, excludingDevice: nil)  // a log with no mutation
            _ = try await log.append(batch("c", [mutation(1)]))

            let recent = start + 60_000
            let all = try await log.listSpaces(after: nil, limit: 10, recentSince: recent)
            #expect(all.map(\.space) == ["a", "b", "c"])
            let b = try #require(all.first { $0.space == "b" })
            #expect(b.headSeq == 3 && b.floorSeq == 0 && b.mutations == 3)
            #expect(b.lastWriteMilliseconds == start + 120_000)
            #expect(b.recentWrites == 1, "seqs 1 and 2 were committed before the recent window")
            #expect(!b.logID.isEmpty)
            let a = try #require(all.first)
            #expect(a.headSeq == 0 && a.lastWriteMilliseconds == nil && a.recentWrites == 0)
            #expect(try await log.listSpaces(after: nil, limit: 10, recentSince: 0).first { $0.space == "b" }?.recentWrites == 3)

            let first = try await log.listSpaces(after: nil, limit: 2, recentSince: recent)
            #expect(first.map(\.space) == ["a", "b"])
            let second = try await log.listSpaces(after: first.last?.space, limit: 2, recentSince: recent)
            #expect(second.map(\.space) == ["c"])
            #expect(try await log.listSpaces(after: "c", limit: 2, recentSince: recent).isEmpty)
            #expect(try await log.listSpaces(after: nil, limit: 0, recentSince: recent).isEmpty)

            #expect(try await log.listCheckpoints(space: "b", limit: 10).isEmpty)
            for (device, acks) in [("dev-b", [("note", Int64(2))]), ("dev-a", [("task", 3), ("note", 1)])] {
                try await log.storeCheckpoints(
                    CheckpointUpdate(
                        space: "b",
                        deviceID: device,
                        logID: b.logID,
                        merged: StreamAck.Merged(try acks.map { try StreamAck(type: $0.0, seq: $0.1) })
                    )
                )
            }
            try await log.storeCheckpoints(
                CheckpointUpdate(
                    space: "b",
                    deviceID: "dev-c",
                    logID: "an-older-log",
                    merged: StreamAck.Merged([try StreamAck(type: "note", seq: 1)])
                )
            )
            try await log.storeCheckpoints(
                CheckpointUpdate(space: "c", deviceID: "dev-a", logID: "x", merged: StreamAck.Merged([try StreamAck(type: "note", seq: 1)]))
            )
            let listed = try await log.listCheckpoints(space: "b", limit: 10)
            #expect(
                listed == [
                    StoredCheckpoint(deviceID: "dev-a", type: "note", seq: 1, ofCurrentLog: true),
                    StoredCheckpoint(deviceID: "dev-a", type: "task", seq: 3, ofCurrentLog: true),
                    StoredCheckpoint(deviceID: "dev-b", type: "note", seq: 2, ofCurrentLog: true),
                    StoredCheckpoint(deviceID: "dev-c", type: "note", seq: 1, ofCurrentLog: false),
                ]
            )
            #expect(try await log.listCheckpoints(space: "b", limit: 2) == Array(listed.prefix(2)))
            #expect(try await log.listCheckpoints(space: "none", limit: 10).isEmpty)
        }
    }

    @Test(arguments: EventLogFactory.all)
    func waitersWakeOnAppend(factory: EventLogFactory) async throws {
        try await factory.with { log, _ in
            _ = try await log.append(batch("a", [mutation(1)]))
            // Already above: answers at once.
            #expect(await log.waitForAppend(space: "a", above: 0, timeout: .seconds(30)))
            async let woke = log.waitForAppend(space: "a", above: 1, timeout: .seconds(30))
            // Whether the waiter registers before or after this commit, the commit wakes it.
            _ = try await log.append(batch("a", [mutation(2)]))
            #expect(await woke)
        }
    }
}

/// The promises of ``TokenStore``, against every store.
@Suite struct TokenStoreContractTests {
    @Test(arguments: EventLogFactory.all)
    func tokensAuthenticateRotateAndRevoke(factory: EventLogFactory) async throws {
        try await factory.with { _, tokens in
            let issued = try await tokens.issue(spaces: ["a", "b"], accessTTL: 60)
            let scope = try #require(try await tokens.authenticate(accessToken: issued.accessToken))
            #expect(scope.spaces == ["a", "b"])
            #expect(try await tokens.authenticate(accessToken: "fat_nope") == nil)
            #expect(try await tokens.authenticate(accessToken: issued.refreshToken) == nil)

            let next = try #require(try await tokens.refresh(refreshToken: issued.refreshToken))
            #expect(next.spaces == ["a", "b"])
            #expect(try await tokens.authenticate(accessToken: next.accessToken) != nil)
            // A spent refresh token fails and revokes the grant.
            #expect(try await tokens.refresh(refreshToken: issued.refreshToken) == nil)
            #expect(try await tokens.authenticate(accessToken: next.accessToken) == nil)
            #expect(try await tokens.refresh(refreshToken: next.refreshToken) == nil)

            let other = try await tokens.issue(spaces: ["c"], accessTTL: 60)
            #expect(try await tokens.revoke(grantID: other.grantID))
            #expect(try await tokens.authenticate(accessToken: other.accessToken) == nil)
            #expect(try await tokens.revoke(grantID: "g_missing") == false)
            let grants = try await tokens.grants()
            #expect(Set(grants.map(\.id)) == [issued.grantID, other.grantID])
            #expect(grants.allSatisfy { $0.revokedAt != nil })
        }
    }

    @Test(arguments: EventLogFactory.all)
    func accessTokensExpireAndRefreshTokensOutliveThem(factory: EventLogFactory) async throws {
        let time = ManualWallClock()
        try await factory.with(clock: time.clock) { _, tokens in
            let issued = try await tokens.issue(spaces: ["a"], accessTTL: 60)
            time.advance(seconds: 59)
            #expect(try await tokens.authenticate(accessToken: issued.accessToken) != nil)
            time.advance(seconds: 1)
            #expect(try await tokens.authenticate(accessToken: issued.accessToken) == nil)
            let next = try #require(try await tokens.refresh(refreshToken: issued.refreshToken))
            #expect(next.expiresIn == 60)
            #expect(try await tokens.authenticate(accessToken: next.accessToken)?.grantID == issued.grantID)
            let grant = try #require(try await tokens.grants().first)
            #expect(grant.accessExpiresAt == time.clock.nowMilliseconds() + 60_000)
            #expect(grant.revokedAt == nil)
        }
    }
}
