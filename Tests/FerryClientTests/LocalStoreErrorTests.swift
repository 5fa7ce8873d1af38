import FerryClient
import FerryCore
import FerryTestKit
import GRDB
import Testing

/// The store's own errors, and the focused reads and writes that replace raw SQL, on an
/// in-memory database.
@Suite struct LocalStoreErrorTests {
    private func upsert(_ seq: Int64, _ key: String, _ fields: [String: JSONValue], op: MutationOp = .upsert) -> LoggedMutation {
        LoggedMutation(
            seq: seq,
            deviceID: "other",
            sessionID: "s",
            mutation: MutationInput(clientActionID: seq, entity: "notes", entityKey: key, op: op, payload: .object(fields)),
            occurredAtMilliseconds: 1_763_856_000_000
        )
    }

    private func page(_ mutations: [LoggedMutation], logID: String = "log-1") -> PullResponse {
        let head = mutations.last?.seq ?? 0
        return PullResponse(mutations: mutations, hasMore: false, latestSeq: head, headSeq: head, logID: logID)
    }

    @Test func aPageOfAnotherLogIsRefusedWithLogChanged() throws {
        let device = try Device("a", transport: InMemoryTransport())
        try device.store.apply(page([upsert(1, "n1", ["id": .string("n1")])]), space: "notes")
        let error = #expect(throws: LocalStoreError.self) {
            try device.store.apply(page([upsert(2, "n2", ["id": .string("n2")])], logID: "log-2"), space: "notes")
        }
        #expect(error?.code == .logChanged)
        #expect(try device.rows().count == 1)
    }

    @Test func anUnknownConflictIsUnknownConflict() throws {
        let device = try Device("a", transport: InMemoryTransport())
        let error = #expect(throws: LocalStoreError.self) { try device.store.resolveConflict(id: 42, choice: .keep) }
        #expect(error?.code == .unknownConflict)
    }

    @Test func aCorruptShadowRowIsAnErrorNotAMissingRecord() throws {
        let device = try Device("a", transport: InMemoryTransport())
        try device.store.apply(page([upsert(1, "n1", ["id": .string("n1"), "title": .string("a")])]), space: "notes")
        try device.write("UPDATE ferry_shadow SET row = '[1, 2' WHERE entity_key = 'n1'")
        let error = #expect(throws: LocalStoreError.self) {
            try device.store.apply(page([upsert(2, "n1", ["title": .string("b")], op: .patch)]), space: "notes")
        }
        #expect(error?.code == .corruptData)
        #expect(try device.store.cursor(space: "notes").lastSeq == 1)
    }

    @Test func corruptStoredColumnsAreAnError() throws {
        let device = try Device("a", transport: InMemoryTransport())
        try device.write("UPDATE ferry_tables SET columns = '{\"id\": 1}' WHERE name = 'notes'")
        let error = #expect(throws: LocalStoreError.self) { try device.store.syncedTables() }
        #expect(error?.code == .corruptData)
    }

    @Test func metadataIsKeptAndFerrysOwnKeysAreReadOnly() throws {
        let device = try Device("a", transport: InMemoryTransport())
        #expect(try device.store.metadata(.refreshToken) == nil)
        try device.store.setMetadata("r-1", for: .refreshToken)
        #expect(try device.store.metadata(.refreshToken) == "r-1")
        try device.store.setMetadata(nil, for: .refreshToken)
        #expect(try device.store.metadata(.refreshToken) == nil)
        #expect(try device.store.metadata(.deviceID) == device.store.deviceID)
        let error = #expect(throws: LocalStoreError.self) { try device.store.setMetadata("d-mine", for: .deviceID) }
        #expect(error?.code == .reservedKey)
        #expect(try device.store.metadata(.deviceID) == device.store.deviceID)
    }

    @Test func metadataFromAsyncCode() async throws {
        let device = try Device("a", transport: InMemoryTransport())
        try await device.store.setMetadata("r-2", for: .refreshToken)
        #expect(try await device.store.metadata(.refreshToken) == "r-2")
        await #expect(throws: LocalStoreError.self) { try await device.store.setMetadata("s-mine", for: .sessionID) }
    }

    @Test func cursorsAndCountsAreNamedValues() throws {
        let device = try Device("a", transport: InMemoryTransport())
        #expect(try device.store.cursors().isEmpty)
        try device.store.apply(page([upsert(3, "n1", ["id": .string("n1")])]), space: "notes")
        try device.store.reset(space: "other", logID: nil)
        let cursors = try device.store.cursors()
        #expect(cursors.keys.sorted() == ["notes", "other"])
        #expect(cursors["notes"]?.lastSeq == 3)
        #expect(cursors["notes"]?.logID == "log-1")
        #expect(cursors["notes"]?.pulledAt != nil)
        #expect(cursors["other"] == LocalStore.Cursor(lastSeq: 0, logID: nil))
        #expect(try device.store.cursor(space: "notes") == cursors["notes"])

        try device.write("INSERT INTO notes (id) VALUES ('n2')")
        #expect(try device.store.counts() == LocalStore.Counts(pending: 1))
    }

    @Test func theAsyncFormsAnswerAsTheSynchronousOnes() async throws {
        let device = try Device("a", transport: InMemoryTransport())
        try await device.store.apply(page([upsert(3, "n1", ["id": .string("n1")])]), space: "notes")
        try device.write("INSERT INTO notes (id) VALUES ('n2')")
        #expect(try await device.store.cursor(space: "notes").lastSeq == 3)
        #expect(try await device.store.counts() == LocalStore.Counts(pending: 1))
        #expect(try await device.store.nextPushBatch(space: "notes", limit: 10)?.request.mutations.map(\.entityKey) == ["n2"])
        try await device.store.reset(space: "notes", logID: "log-2")
        let reset = try await device.store.cursor(space: "notes")
        #expect(reset.lastSeq == 0 && reset.logID == "log-2")
    }

    @Test func theLeaseHolderIsANamedValue() async throws {
        let device = try Device("a", transport: InMemoryTransport())
        #expect(try device.store.leaseHolder() == nil)
        #expect(try await device.store.acquireLease(owner: "me", duration: .seconds(60)))
        #expect(try device.store.leaseHolder()?.owner == "me")
        #expect(try await device.store.acquireLease(owner: "you", duration: .seconds(60)) == false)
        // The synchronous release, as a stopping manager gives the lease up.
        func release() throws { try device.store.releaseLease(owner: "me") }
        try release()
        #expect(try device.store.leaseHolder() == nil)
    }

    @Test func rejectedMutationsCarryTheirReason() async throws {
        let device = try Device("a", transport: InMemoryTransport())
        try device.write("INSERT INTO notes (id) VALUES ('n1')")
        let batch = try #require(try await device.store.nextPushBatch(space: "notes", limit: 10))
        let id = try #require(batch.request.mutations.first?.clientActionID)
        try await device.store.recordPushResult(
            PushResponse(
                accepted: 0,
                acks: [],
                rejected: [MutationRejection(clientActionID: id, reason: .invalid, message: "too big")],
                conflicts: [],
                headSeq: 0,
                logID: "log-1"
            ),
            for: batch
        )
        #expect(
            try device.store.rejectedMutations() == [
                LocalStore.RejectedMutation(clientActionID: id, entity: "notes", entityKey: "n1", reason: "too big")
            ]
        )
        #expect(try await device.store.counts() == LocalStore.Counts(rejected: 1))
    }
}
