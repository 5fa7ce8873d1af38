import FerryCore
import FerryLog
import FerryTestKit
import Testing

private func envelope(_ mutations: [NewMutation], space: String = "notes", device: String = "dev-a") -> PushEnvelope {
    var envelope = PushEnvelope(PushRequest(space: space, deviceID: device, sessionID: "s1", mutations: []))
    envelope.mutations = mutations
    return envelope
}

private func note(_ id: Int64, key: String = "n1", payload: String? = #"{"v":1}"#, op: MutationOp = .upsert) -> NewMutation {
    NewMutation(clientActionID: id, entity: "note", entityKey: key, op: op, payload: payload.map { Array($0.utf8) })
}

/// The server's push and pull apart from HTTP, on the memory store.
@Suite struct SyncEndpointsTests {
    @Test func aPushIsAnsweredInRequestOrderWithInvalidAndDuplicateRejections() async throws {
        let endpoints = SyncEndpoints(eventLog: MemoryEventLog(), configuration: ServerConfiguration())
        _ = try await endpoints.push(envelope([note(2)])) { _ in }
        let outcome = try await endpoints.push(envelope([note(1), note(2), note(3, payload: "[1]"), note(4, key: "n2")])) { _ in }
        #expect(outcome.response.acks.map(\.clientActionID) == [1, 4])
        #expect(outcome.response.acks.map(\.seq) == [2, 3])
        #expect(outcome.response.rejected.map(\.clientActionID) == [2, 3])
        #expect(outcome.response.rejected.map(\.reason) == [.duplicate, .invalid])
        #expect(outcome.response.rejected.first?.seq == 1)
        #expect(outcome.duplicates == 1)
        #expect(outcome.invalid == 1)
        #expect(outcome.response.headSeq == 3)
    }

    @Test func aPushChecksTheEnvelopeBeforeAskingForAuthorization() async throws {
        let endpoints = SyncEndpoints(eventLog: MemoryEventLog(), configuration: ServerConfiguration(maxMutationsPerPush: 1))
        var asked: [String] = []
        await #expect(throws: FerryError.self) {
            _ = try await endpoints.push(envelope([note(1)], space: "Bad Space")) { asked.append($0) }
        }
        let tooMany = await #expect(throws: FerryError.self) {
            _ = try await endpoints.push(envelope([note(1), note(2)])) { asked.append($0) }
        }
        #expect(tooMany?.code == .badRequest)
        #expect(asked.isEmpty)
        let refused = await #expect(throws: FerryError.self) {
            _ = try await endpoints.push(envelope([note(1)])) { _ in throw FerryError(.forbidden, "no") }
        }
        #expect(refused?.code == .forbidden)
    }

    @Test func pullLimitsFollowTheConfiguration() throws {
        let configuration = ServerConfiguration(defaultPullLimit: 7, maxPullLimit: 10, maxWaitSeconds: 5)
        let query = { (limit: Int?) in
            try PullQuery(space: "notes", since: 0, limit: limit, excludeDevice: nil, wait: nil, configuration: configuration)
        }
        #expect(try query(nil).limit == 7)
        #expect(try query(3).limit == 3)
        #expect(try query(1000).limit == 10)
        #expect(throws: FerryError.self) { try query(0) }
        #expect(throws: FerryError.self) {
            try PullQuery(space: "notes", since: 0, limit: nil, excludeDevice: nil, wait: .seconds(6), configuration: configuration)
        }
        let parameters: [String: Substring] = ["space": "notes", "since_seq": "4", "limit": "99999999999999999999999", "wait": "1.5"]
        let parsed = try PullQuery(parameter: { parameters[$0] }, configuration: configuration)
        #expect(parsed.since == 4)
        #expect(parsed.limit == 10)
        #expect(parsed.wait == .milliseconds(1500))
        let bad: [String: Substring] = ["space": "notes", "since_seq": "-1"]
        let error = #expect(throws: FerryError.self) { try PullQuery(parameter: { bad[$0] }, configuration: configuration) }
        #expect(error?.message == "since_seq must be an integer ≥ 0")
    }

    @Test func aLongPollIsWokenByACommitWithNoTimePassing() async throws {
        let clock = TestClock()
        let watcher = CommitWatcher(clock: clock)
        let endpoints = SyncEndpoints(eventLog: MemoryEventLog(watcher: watcher), configuration: ServerConfiguration(clock: clock))
        let query = try PullQuery(
            space: "notes",
            since: 0,
            limit: nil,
            excludeDevice: nil,
            wait: .seconds(30),
            configuration: endpoints.configuration
        )
        async let page = endpoints.pull(query)
        await clock.waitForSleepers()
        _ = try await endpoints.push(envelope([note(1)], device: "dev-b")) { _ in }
        let answered = try await page
        #expect(answered.mutations.map(\.seq) == [1])
        #expect(clock.now.offset == .zero)
    }

    @Test func aLongPollAnswersEmptyWhenItsWaitPasses() async throws {
        let clock = TestClock()
        let endpoints = SyncEndpoints(
            eventLog: MemoryEventLog(watcher: CommitWatcher(clock: clock)),
            configuration: ServerConfiguration(clock: clock)
        )
        let query = try PullQuery(
            space: "notes",
            since: 0,
            limit: nil,
            excludeDevice: "dev-a",
            wait: .seconds(30),
            configuration: endpoints.configuration
        )
        async let page = endpoints.pull(query)
        await clock.waitForSleepers()
        // The device's own write does not answer its pull: the page stays empty until the wait passes.
        _ = try await endpoints.push(envelope([note(1)])) { _ in }
        await clock.waitForSleepers()
        clock.advance(by: .seconds(30))
        let answered = try await page
        #expect(answered.mutations.isEmpty)
        #expect(answered.latestSeq == 1)
    }
}

/// The rules every token store follows.
@Suite struct TokenRotationTests {
    @Test func spendingARefreshToken() {
        #expect(TokenRotation.decide(found: false, grantRevokedAt: nil, spentAt: nil) == .refuse)
        #expect(TokenRotation.decide(found: true, grantRevokedAt: 5, spentAt: nil) == .refuse)
        #expect(TokenRotation.decide(found: true, grantRevokedAt: 5, spentAt: 4) == .refuse)
        #expect(TokenRotation.decide(found: true, grantRevokedAt: nil, spentAt: 4) == .revokeGrant)
        #expect(TokenRotation.decide(found: true, grantRevokedAt: nil, spentAt: nil) == .rotate)
    }

    @Test func aPairIsTwoFreshSecretsAndTheirHashes() {
        let pair = TokenRotation.Pair(grantID: "g_1", spaces: ["a", "b"], accessTTL: 60, now: 1000)
        #expect(pair.issued.accessToken.hasPrefix(TokenSecret.accessPrefix))
        #expect(pair.issued.refreshToken.hasPrefix(TokenSecret.refreshPrefix))
        #expect(pair.accessHash == TokenSecret.hash(pair.issued.accessToken))
        #expect(pair.refreshHash == TokenSecret.hash(pair.issued.refreshToken))
        #expect(pair.accessExpiresAt == 61_000)
        #expect(TokenRotation.spaces(TokenRotation.joined(["a", "b"])) == ["a", "b"])
        let other = TokenRotation.Pair(grantID: "g_1", spaces: ["a"], accessTTL: 60, now: 1000)
        #expect(other.issued.accessToken != pair.issued.accessToken)
    }

    @Test func secretsAreBase64URLWithoutPadding() {
        #expect(TokenSecret.base64URL([0xFB, 0xFF]) == "-_8")
        #expect(TokenSecret.base64URL(Array("any carnal pleas".utf8)) == "YW55IGNhcm5hbCBwbGVhcw")
        let secret = TokenSecret.generate(prefix: "x_")
        #expect(secret.count == 2 + 43)
        #expect(secret.dropFirst(2).allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
    }
}

/// What only the memory store offers.
@Suite struct MemoryEventLogTests {
    @Test func aReplacedLogStartsOverUnderANewID() async throws {
        let log = MemoryEventLog()
        let first = try await log.append(AppendBatch(space: "notes", deviceID: "d", sessionID: "s", mutations: [note(1)]))
        log.replaceLog(of: "notes")
        let page = try await log.read(space: "notes", since: 0, limit: 10, excludingDevice: nil)
        #expect(page.headSeq == 0)
        #expect(page.logID != first.logID)
        #expect(await log.waitForAppend(space: "notes", above: 0, timeout: .zero) == false)
        let again = try await log.append(AppendBatch(space: "notes", deviceID: "d", sessionID: "s", mutations: [note(1)]))
        #expect(again.outcomes == [.stored(seq: 1)])
    }
}

/// Merging the store's outcomes and the validator's rejections back into request order.
@Suite struct PushResponseMergingTests {
    @Test func outcomesAndRejectionsComeBackInRequestOrder() {
        let mutations = (1...5).map { note(Int64($0)) }
        var checked = PushValidator.Checked()
        checked.valid = [0, 2, 4]
        checked.invalid = [
            (1, MutationRejection(clientActionID: 2, reason: .invalid, message: "no")),
            (3, MutationRejection(clientActionID: 4, reason: .invalid, message: "no")),
        ]
        let stored = AppendResult(
            outcomes: [.stored(seq: 10), .duplicate(seq: 3), .stored(seq: 11)],
            conflicts: [ConflictReport(clientActionID: 5, entity: "note", entityKey: "n1", baseSeq: 1, currentSeq: 10)],
            headSeq: 11,
            logID: "log"
        )
        let response = PushResponse(merging: stored, checked: checked, mutations: mutations)
        #expect(response.accepted == 2)
        #expect(response.acks == [MutationAck(clientActionID: 1, seq: 10), MutationAck(clientActionID: 5, seq: 11)])
        #expect(response.rejected.map(\.clientActionID) == [2, 3, 4])
        #expect(response.rejected.map(\.reason) == [.invalid, .duplicate, .invalid])
        #expect(response.rejected[1].seq == 3)
        #expect(response.conflicts.map(\.clientActionID) == [5])
        #expect(response.headSeq == 11)
        #expect(response.logID == "log")
    }

    @Test func aPushWithNothingValidStoresNothing() {
        var checked = PushValidator.Checked()
        checked.invalid = [(0, MutationRejection(clientActionID: 1, reason: .invalid, message: "no"))]
        let response = PushResponse(
            merging: AppendResult(outcomes: [], conflicts: [], headSeq: 4, logID: "log"),
            checked: checked,
            mutations: [note(1)]
        )
        #expect(response.acks.isEmpty)
        #expect(response.rejected.count == 1)
        #expect(response.headSeq == 4)
    }
}
