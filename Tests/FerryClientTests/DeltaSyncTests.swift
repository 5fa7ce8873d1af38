import FerryClient
import FerryCore
import FerryTestKit
import Synchronization
import Testing

/// The events a run emitted, in order.
private final class EventLog: Sendable {
    private let events = Mutex<[DeltaSyncEvent]>([])
    var all: [DeltaSyncEvent] { events.withLock { $0 } }
    func record(_ event: DeltaSyncEvent) { events.withLock { $0.append(event) } }
}

/// A sync of `source` into `sink` on an immediate clock, with the jitter pinned to nominal.
private func deltaSync(
    _ source: InMemoryDeltaSource,
    _ sink: any DeltaSink,
    clock: ImmediateClock = ImmediateClock(),
    events: EventLog = EventLog(),
    configuration: DeltaSyncConfiguration = DeltaSyncConfiguration()
) -> DeltaSync<ImmediateClock> {
    DeltaSync(source: source, sink: sink, configuration: configuration, clock: clock, random: { 0.5 }, onEvent: events.record)
}

private func fill(_ source: InMemoryDeltaSource, _ count: Int, prefix: String = "r") {
    for n in 1...count { source.put(id: "\(prefix)\(n)", data: "data \(n)", etag: "e\(n)") }
}

@Suite struct DeltaSyncTests {
    @Test func aFirstSyncStartsPagesThroughUpdatedThenDeletedAndStoresTheTokensLast() async throws {
        let source = InMemoryDeltaSource(stream: "email", pageSize: 3)
        fill(source, 7)
        let sink = InMemoryDeltaSink()
        let result = try await deltaSync(source, sink).run()

        #expect(result.updated == 7 && result.deleted == 0 && result.fullResync && !result.tokensRejected)
        #expect(result.pages == 4)
        #expect(sink.records(stream: "email") == source.records)
        let calls = source.calls
        #expect(calls.first == .start)
        #expect(calls[1] == .updated(.delta("d.1.0")))
        guard case .updated(.page) = calls[2], case .updated(.page) = calls[3] else {
            Issue.record("later pages must send the page token: \(calls)")
            return
        }
        #expect(calls.last == .deleted(.delta("d.1.0")))
        // The sink saw the pages in order, marking them, and the tokens only at the very end.
        let log = sink.log
        #expect(log.first == .readTokens(stream: "email"))
        #expect(log[1] == .begin(stream: "email", fullSync: true))
        #expect(log.dropFirst(2).dropLast().allSatisfy { if case .upsert = $0 { true } else { false } })
        #expect(log.last == .finish(stream: "email", tokens: result.tokens, sweep: true))
        #expect(sink.storedTokens(stream: "email") == result.tokens)
    }

    @Test func aResumedSyncGetsOnlyTheChangesAndDeletionsSinceItsToken() async throws {
        let source = InMemoryDeltaSource(stream: "contacts", pageSize: 2)
        fill(source, 5)
        let sink = InMemoryDeltaSink()
        let first = try await deltaSync(source, sink).run()

        source.put(id: "r2", data: "changed", etag: "e2b")
        source.put(id: "r9", data: "new", etag: nil)
        source.remove(id: "r4")
        source.remove(id: "r5")
        let second = try await deltaSync(source, sink).run()

        #expect(second.updated == 2 && second.deleted == 2 && !second.fullResync && second.swept == 0)
        #expect(sink.records(stream: "contacts") == source.records)
        #expect(sink.records(stream: "contacts")["r2"]?.data == "changed")
        let calls = source.calls.drop { $0 != .updated(.delta(first.tokens.updated)) }
        #expect(!calls.isEmpty, "the second run resumes from the stored token without starting")
        #expect(!source.calls.dropFirst().contains(.start))
        // Every updated page comes before the first deleted page.
        let firstDeleted = try #require(calls.firstIndex { if case .deleted = $0 { true } else { false } })
        #expect(calls[firstDeleted...].allSatisfy { if case .deleted = $0 { true } else { false } })
        #expect(calls[firstDeleted] == .deleted(.delta(first.tokens.deleted)))
        // A third run with no changes writes nothing but the tokens.
        let third = try await deltaSync(source, sink).run()
        #expect(third.updated == 0 && third.deleted == 0)
    }

    @Test func aFailedWriteBetweenPagesLeavesTheOldTokensAndTheNextRunEndsCorrect() async throws {
        let source = InMemoryDeltaSource(pageSize: 3)
        fill(source, 6)
        let sink = InMemoryDeltaSink()
        let first = try await deltaSync(source, sink).run()
        fill(source, 10, prefix: "n")
        source.remove(id: "r1")
        // The second page of the next run fails to write: as if the process died there.
        sink.failWrite(2)
        await #expect(throws: DeltaSyncError.self) { try await deltaSync(source, sink).run() }
        #expect(sink.storedTokens(stream: "memory") == first.tokens, "tokens never move ahead of the data")
        #expect(sink.records(stream: "memory").count == 6, "the records show only finished syncs")
        #expect(sink.staged(stream: "memory").count == 3, "the first page was staged")

        let again = try await deltaSync(source, sink).run()
        #expect(again.updated == 10 && again.deleted == 1)
        #expect(sink.records(stream: "memory") == source.records)
    }

    @Test func aSourceErrorMidDrainFailsTheRunWithoutMovingTheTokens() async throws {
        let source = InMemoryDeltaSource(pageSize: 2)
        fill(source, 5)
        let sink = InMemoryDeltaSink()
        _ = try await deltaSync(source, sink).run()
        let stored = sink.storedTokens(stream: "memory")
        fill(source, 5, prefix: "x")
        source.fail(.deleted, with: DeltaSourceError(.unavailable, "HTTP 500", status: 500))

        let error = await #expect(throws: DeltaSyncError.self) { try await deltaSync(source, sink).run() }
        #expect(error?.code == .sourceFailed)
        #expect(sink.storedTokens(stream: "memory") == stored)
        let again = try await deltaSync(source, sink).run()
        #expect(again.updated == 5)
        #expect(sink.records(stream: "memory") == source.records)
    }

    @Test func notReadyStartsAgainWithAGrowingPauseThenGivesUpClearly() async throws {
        let source = InMemoryDeltaSource()
        fill(source, 2)
        source.answerNotReady(starts: 3)
        let clock = ImmediateClock()
        let events = EventLog()
        let result = try await deltaSync(source, InMemoryDeltaSink(), clock: clock, events: events).run()
        #expect(result.updated == 2)
        #expect(clock.sleeps == [.seconds(1), .seconds(2), .seconds(4)])
        #expect(result.duration == .seconds(7))
        #expect(source.calls.filter { $0 == .start }.count == 4)
        let waits = events.all.compactMap { if case .waitingForReady(_, let attempt, _) = $0 { attempt } else { nil } }
        #expect(waits == [1, 2, 3])

        let stubborn = InMemoryDeltaSource()
        stubborn.answerNotReady(starts: 100)
        let sink = InMemoryDeltaSink()
        let error = await #expect(throws: DeltaSyncError.self) {
            try await deltaSync(stubborn, sink, configuration: DeltaSyncConfiguration(startAttempts: 4)).run()
        }
        #expect(error?.code == .notReady)
        #expect(error?.message.contains("4 starts") == true)
        #expect(stubborn.calls.count == 4)
        #expect(sink.storedTokens(stream: "memory") == nil)
    }

    @Test func rateLimitsAreWaitedOutAndTheSameRequestIsMadeAgain() async throws {
        let source = InMemoryDeltaSource(pageSize: 2)
        fill(source, 4)
        source.fail(.updated, with: DeltaSourceError(.rateLimited, "HTTP 429", status: 429, retryAfter: .seconds(7)))
        source.fail(.deleted, with: DeltaSourceError(.rateLimited, "HTTP 503", status: 503))
        let clock = ImmediateClock()
        let events = EventLog()
        let sink = InMemoryDeltaSink()
        let result = try await deltaSync(source, sink, clock: clock, events: events).run()

        #expect(result.updated == 4)
        #expect(clock.sleeps == [.seconds(7), .seconds(1)], "Retry-After when given, else the backoff")
        let calls = source.calls
        #expect(calls[1] == .updated(.delta("d.1.0")) && calls[2] == .updated(.delta("d.1.0")))
        #expect(sink.records(stream: "memory") == source.records)
        let limited = events.all.compactMap { if case .rateLimited(_, _, let delay) = $0 { delay } else { nil } }
        #expect(limited == [.seconds(7), .seconds(1)])
    }

    @Test func aSourceThatKeepsRateLimitingOrAsksForTooLongEndsTheRunWithItsWait() async throws {
        let source = InMemoryDeltaSource()
        fill(source, 1)
        for _ in 0..<4 { source.fail(with: DeltaSourceError(.rateLimited, "HTTP 429", status: 429, retryAfter: .seconds(2))) }
        let clock = ImmediateClock()
        let error = await #expect(throws: DeltaSyncError.self) {
            try await deltaSync(source, InMemoryDeltaSink(), clock: clock, configuration: DeltaSyncConfiguration(rateLimitRetries: 3)).run()
        }
        #expect(error?.code == .rateLimited && error?.retryAfter == .seconds(2))
        #expect(clock.sleeps.count == 3)

        let slow = InMemoryDeltaSource()
        slow.fail(.start, with: DeltaSourceError(.rateLimited, "HTTP 429", status: 429, retryAfter: .seconds(3600)))
        let patient = ImmediateClock()
        let tooLong = await #expect(throws: DeltaSyncError.self) { try await deltaSync(slow, InMemoryDeltaSink(), clock: patient).run() }
        #expect(tooLong?.code == .rateLimited && tooLong?.retryAfter == .seconds(3600))
        #expect(patient.sleeps.isEmpty, "a wait longer than the longest is the scheduler's, not the run's")
    }

    @Test func refusedCredentialsFailAtOnceAndWriteNothing() async throws {
        let source = InMemoryDeltaSource()
        fill(source, 3)
        source.fail(.start, with: DeltaSourceError(.unauthorized, "HTTP 401: invalid token", status: 401))
        let sink = InMemoryDeltaSink()
        let error = await #expect(throws: DeltaSyncError.self) { try await deltaSync(source, sink).run() }
        #expect(error?.code == .unauthorized)
        #expect(error?.message.contains("invalid token") == true)
        #expect(sink.log.allSatisfy { if case .upsert = $0 { false } else if case .finish = $0 { false } else { true } })
        #expect(sink.records(stream: "memory").isEmpty)
    }

    @Test func forgottenTokensBringAFullResyncThatEndsWithExactlyTheSourcesRecords() async throws {
        let source = InMemoryDeltaSource(stream: "calendar:primary", pageSize: 4)
        fill(source, 10)
        let sink = InMemoryDeltaSink()
        _ = try await deltaSync(source, sink).run()
        // The source forgets its change log: deletions it will never report again.
        source.remove(id: "r3")
        source.remove(id: "r7")
        source.forgetTokens()
        source.put(id: "r1", data: "changed", etag: "z")
        source.put(id: "r11", data: "new", etag: "z")
        let events = EventLog()
        let result = try await deltaSync(source, sink, events: events).run()

        #expect(result.fullResync && result.tokensRejected)
        #expect(result.swept == 2)
        #expect(sink.records(stream: "calendar:primary") == source.records)
        #expect(events.all.contains(.tokensRejected(stream: "calendar:primary")))
        #expect(source.calls.suffix(5).contains(.start))
        // The following run resumes normally.
        source.put(id: "r12", data: "later", etag: nil)
        let next = try await deltaSync(source, sink).run()
        #expect(!next.fullResync && next.updated == 1)
        #expect(sink.records(stream: "calendar:primary") == source.records)
    }

    @Test func tokensRejectedMidDrainStartOverWithoutCountingOrApplyingTheFirstAttempt() async throws {
        let source = InMemoryDeltaSource(pageSize: 2)
        fill(source, 4)
        let sink = InMemoryDeltaSink()
        _ = try await deltaSync(source, sink).run()
        fill(source, 6, prefix: "n")
        // The resumed drain's second page is refused: the source forgot the token meanwhile.
        source.fail(.updated, with: DeltaSourceError(.tokenInvalid, "HTTP 410", status: 410), skipping: 1)
        let result = try await deltaSync(source, sink).run()
        #expect(result.tokensRejected && result.fullResync)
        #expect(result.updated == 10, "only the full sync's records count: \(result.updated)")
        #expect(result.pages == 6)
        #expect(sink.records(stream: "memory") == source.records)
        let begins = sink.log.filter { if case .begin = $0 { true } else { false } }.suffix(2)
        #expect(Array(begins) == [.begin(stream: "memory", fullSync: false), .begin(stream: "memory", fullSync: true)])
    }

    @Test func aSourceThatRejectsTheTokensOfItsOwnFullSyncIsAnError() async throws {
        let source = InMemoryDeltaSource()
        fill(source, 1)
        source.fail(.updated, with: DeltaSourceError(.tokenInvalid, "HTTP 410", status: 410))
        let error = await #expect(throws: DeltaSyncError.self) { try await deltaSync(source, InMemoryDeltaSink()).run() }
        #expect(error?.code == .tokenInvalid)
    }

    @Test func everyBatchIsReportedWithItsCountAndRunningTotal() async throws {
        let source = InMemoryDeltaSource(pageSize: 3)
        fill(source, 8)
        let sink = InMemoryDeltaSink()
        _ = try await deltaSync(source, sink).run()
        for n in 1...4 { source.remove(id: "r\(n)") }
        let events = EventLog()
        let clock = ImmediateClock()
        let result = try await deltaSync(source, sink, clock: clock, events: events).run()

        let deletedBatches = events.all.compactMap {
            if case .deletedBatch(_, let count, let total, _) = $0 { [count, total] } else { nil }
        }
        #expect(deletedBatches == [[3, 3], [1, 4]])
        let updatedBatches = events.all.compactMap {
            if case .updatedBatch(_, let count, let total, _) = $0 { [count, total] } else { nil }
        }
        #expect(updatedBatches == [[0, 0]])
        #expect(events.all.first == .started(stream: "memory", fullResync: false))
        #expect(events.all.last == .finished(result))
    }
}
