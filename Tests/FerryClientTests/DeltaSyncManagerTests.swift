import FerryClient
import FerryCore
import FerryTestKit
import MetricsTestKit
import Testing

@Suite struct DeltaSyncManagerTests {
    /// Runs `manager` for the body's length, with its outcomes.
    private func running<T: Sendable>(
        _ manager: DeltaSyncManager<TestClock>,
        _ body: (inout AsyncStream<DeltaSyncManager<TestClock>.Outcome>.AsyncIterator) async throws -> T
    ) async throws -> T {
        var outcomes = manager.outcomes().makeAsyncIterator()
        let task = Task { try await manager.run() }
        defer { task.cancel() }
        return try await body(&outcomes)
    }

    @Test func itSyncsAtOnceThenEveryPollInterval() async throws {
        let source = InMemoryDeltaSource(stream: "contacts")
        source.put(id: "a", data: "1")
        let sink = InMemoryDeltaSink()
        let clock = TestClock()
        let manager = DeltaSyncManager(
            source: source,
            sink: sink,
            schedule: SyncSchedule(pollInterval: .seconds(60)),
            clock: clock,
            random: { 0.5 },
            metrics: nil
        )
        try await running(manager) { outcomes in
            let first = try #require(await outcomes.next()).get()
            #expect(first.updated == 1 && first.fullResync)
            #expect(manager.status.phase == .healthy)
            source.put(id: "b", data: "2")
            await clock.waitForSleeper(until: clock.now.advanced(by: .seconds(60)))
            #expect(sink.records(stream: "contacts").count == 1, "nothing happens before the interval")
            clock.advance(by: .seconds(60))
            let second = try #require(await outcomes.next()).get()
            #expect(second.updated == 1 && !second.fullResync)
            #expect(sink.records(stream: "contacts") == source.records)
        }
    }

    @Test func failuresBackOffByTheSyncPolicyAndAnAuthFailureSaysSo() async throws {
        let source = InMemoryDeltaSource()
        source.put(id: "a", data: "1")
        source.fail(with: DeltaSourceError(.unavailable, "HTTP 502", status: 502))
        source.fail(with: DeltaSourceError(.unauthorized, "HTTP 401", status: 401))
        let clock = TestClock()
        let manager = DeltaSyncManager(
            source: source,
            sink: InMemoryDeltaSink(),
            schedule: SyncSchedule(pollInterval: .seconds(600), backoff: BackoffPolicy(base: .seconds(2), maximum: .seconds(60))),
            clock: clock,
            random: { 0.5 },
            metrics: nil
        )
        try await running(manager) { outcomes in
            guard case .failure(let first) = try #require(await outcomes.next()) else {
                Issue.record("the first run must fail")
                return
            }
            #expect(first.code == .sourceFailed)
            #expect(manager.status.phase == .backoff && manager.status.reasonCode == .transient)
            await clock.waitForSleeper(until: clock.now.advanced(by: .seconds(2)))
            clock.advance(by: .seconds(2))
            guard case .failure(let second) = try #require(await outcomes.next()) else {
                Issue.record("the second run must fail")
                return
            }
            #expect(second.code == .unauthorized)
            #expect(manager.status.reasonCode == .authRequired && manager.status.consecutiveFailures == 2)
            await clock.waitForSleeper(until: clock.now.advanced(by: .seconds(4)))
            // syncNow skips the backoff.
            manager.syncNow()
            let third = try #require(await outcomes.next()).get()
            #expect(third.updated == 1)
            #expect(manager.status.phase == .healthy && manager.status.consecutiveFailures == 0)
        }
    }

    @Test func aLongRetryAfterIsHonouredByTheSchedule() async throws {
        let source = InMemoryDeltaSource()
        source.fail(with: DeltaSourceError(.rateLimited, "HTTP 429", status: 429, retryAfter: .seconds(900)))
        let clock = TestClock()
        let manager = DeltaSyncManager(source: source, sink: InMemoryDeltaSink(), clock: clock, random: { 0.5 }, metrics: nil)
        try await running(manager) { outcomes in
            guard case .failure(let error) = try #require(await outcomes.next()) else {
                Issue.record("the run must fail")
                return
            }
            #expect(error.code == .rateLimited)
            await clock.waitForSleeper(until: clock.now.advanced(by: .seconds(900)))
            #expect(clock.sleeperDeadlines == [clock.now.advanced(by: .seconds(900))])
        }
    }

    @Test func eventsAreCountedAsMetricsPerStream() async throws {
        let metrics = TestMetrics()
        let source = InMemoryDeltaSource(stream: "email", pageSize: 2)
        for n in 1...5 { source.put(id: "m\(n)", data: "{}") }
        let sink = InMemoryDeltaSink()
        let recorder = DeltaSyncMetrics(factory: metrics)
        _ = try await DeltaSync(source: source, sink: sink, clock: ImmediateClock(), onEvent: recorder.record).run()
        source.remove(id: "m1")
        source.fail(.deleted, with: DeltaSourceError(.rateLimited, "HTTP 429", retryAfter: .seconds(1)))
        _ = try await DeltaSync(source: source, sink: sink, clock: ImmediateClock(), onEvent: recorder.record).run()

        let updated = try metrics.expectCounter("ferry_delta_records_total", [("stream", "email"), ("kind", "updated")])
        #expect(updated.totalValue == 5)
        let deleted = try metrics.expectCounter("ferry_delta_records_total", [("stream", "email"), ("kind", "deleted")])
        #expect(deleted.totalValue == 1)
        let batches = try metrics.expectCounter("ferry_delta_batches_total", [("stream", "email"), ("kind", "updated")])
        #expect(batches.totalValue == 4)
        #expect(try metrics.expectCounter("ferry_delta_runs_total", [("stream", "email"), ("result", "ok")]).totalValue == 2)
        #expect(try metrics.expectCounter("ferry_delta_full_resyncs_total", [("stream", "email")]).totalValue == 1)
        #expect(try metrics.expectCounter("ferry_delta_waits_total", [("stream", "email"), ("reason", "rate_limited")]).totalValue == 1)
        #expect(try metrics.expectTimer("ferry_delta_batch_duration", [("stream", "email"), ("kind", "updated")]).values.count == 4)
    }
}
