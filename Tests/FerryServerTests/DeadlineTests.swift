import FerryCore
import FerryTestKit
import Synchronization
import Testing

@testable import FerryServer

/// `withDeadline`, the guard of every PostgreSQL operation, under the test clock.
@Suite(.timeLimit(.minutes(1)))
struct DeadlineTests {
    @Test func anAnswerBeforeTheDeadlineIsReturnedAndStopsTheTimer() async throws {
        let clock = TestClock()
        let answer = try await withDeadline(.seconds(5), clock: clock) { 42 }
        #expect(answer == 42)
        // The timer was cancelled: nothing is left sleeping on the clock.
        while clock.sleeperCount > 0 { await Task.yield() }
        #expect(clock.now.offset == .zero)
    }

    @Test func anOperationErrorIsThrownAsItIs() async throws {
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await withDeadline(.seconds(5), clock: TestClock()) { () async throws -> Int in throw Refused() }
        }
    }

    @Test func aStuckOperationIsCancelledAndNotWaitedForOnceTheDeadlinePasses() async throws {
        let clock = TestClock()
        let release = Gate()
        let cancelled = Mutex(false)
        let answer = Task {
            try await withDeadline(.seconds(5), clock: clock) { () async throws -> Int in
                // A query stuck on a dead database: it notices cancellation but does not end.
                await withTaskCancellationHandler {
                    await release.wait()
                } onCancel: {
                    cancelled.withLock { $0 = true }
                }
                return 1
            }
        }
        await clock.waitForSleepers()
        clock.advance(by: .seconds(4))
        #expect(clock.sleeperCount == 1)
        clock.advance(by: .seconds(1))
        let error = await #expect(throws: FerryError.self) { try await answer.value }
        #expect(error?.code == .unavailable)
        #expect(cancelled.withLock { $0 })
        release.open()
    }

    @Test func cancellingTheCallerCancelsTheOperation() async throws {
        let clock = TestClock()
        let started = Gate()
        let task = Task {
            try await withDeadline(.seconds(5), clock: clock) { () async throws -> Int in
                started.open()
                try await Task.sleep(for: .seconds(3600))
                return 1
            }
        }
        await started.wait()
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }
}

/// A one-shot gate: ``wait()`` returns once ``open()`` was called.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let isOpen = state.withLock { state in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if isOpen { continuation.resume() }
        }
    }
}
