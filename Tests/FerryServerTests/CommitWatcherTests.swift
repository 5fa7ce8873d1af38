import FerryServer
import FerryTestKit
import Synchronization
import Testing

@Suite struct CommitWatcherTests {
    @Test func aHeadPublishedBeforeTheWaitAnswersAtOnce() async {
        let watcher = CommitWatcher(clock: TestClock())
        watcher.publish(space: "a", head: 3)
        #expect(await watcher.wait(space: "a", above: 2, timeout: .seconds(10)))
    }

    @Test func aPublishWakesTheWaiterAndOtherSpacesDoNot() async {
        let clock = TestClock()
        let waiting = Mutex(0)
        let watcher = CommitWatcher(clock: clock) { delta in waiting.withLock { $0 += delta } }
        async let woke = watcher.wait(space: "a", above: 5, timeout: .seconds(10))
        await clock.waitForSleepers()
        while waiting.withLock({ $0 }) == 0 { await Task.yield() }
        watcher.publish(space: "b", head: 9)
        watcher.publish(space: "a", head: 5)  // not above 5
        #expect(waiting.withLock { $0 } == 1)
        watcher.publish(space: "a", head: 6)
        #expect(await woke)
        #expect(waiting.withLock { $0 } == 0)
    }

    @Test func theTimeoutAnswersFalse() async {
        let clock = TestClock()
        let watcher = CommitWatcher(clock: clock)
        async let woke = watcher.wait(space: "a", above: 0, timeout: .seconds(2))
        await clock.waitForSleepers()
        clock.advance(by: .seconds(1))
        #expect(clock.sleeperCount == 1)
        clock.advance(by: .seconds(1))
        #expect(await woke == false)
    }

    @Test func shutdownWakesEveryWaiterAndRefusesNewOnes() async {
        let clock = TestClock()
        let waiting = Mutex(0)
        let watcher = CommitWatcher(clock: clock) { delta in waiting.withLock { $0 += delta } }
        async let first = watcher.wait(space: "a", above: 0, timeout: .seconds(60))
        async let second = watcher.wait(space: "b", above: 0, timeout: .seconds(60))
        await clock.waitForSleepers(2)
        while waiting.withLock({ $0 }) < 2 { await Task.yield() }
        watcher.shutdown()
        #expect(await first == false)
        #expect(await second == false)
        #expect(await watcher.wait(space: "a", above: 0, timeout: .seconds(60)) == false)
    }

    @Test func cancellationRemovesTheWaiter() async {
        let clock = TestClock()
        let waiting = Mutex(0)
        let watcher = CommitWatcher(clock: clock) { delta in waiting.withLock { $0 += delta } }
        let task = Task { await watcher.wait(space: "a", above: 0, timeout: .seconds(60)) }
        await clock.waitForSleepers()
        while waiting.withLock({ $0 }) == 0 { await Task.yield() }
        task.cancel()
        #expect(await task.value == false)
        #expect(waiting.withLock { $0 } == 0)
    }
}
