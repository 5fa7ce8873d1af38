import FerryCore
import FerryLog
import FerryTestKit

/// The endpoints the tests of shared wake-up reads start from: a memory log behind a
/// ``StorageOutage`` switch (to count and hold page reads), a test clock for every wait, and
/// a count of the long-poll waiters (to know when all are waiting).
package struct SharedReadsFixture: Sendable {
    /// The clock of the waits: a test that never advances it proves no wait ran out.
    package let clock = TestClock()
    /// The endpoints' configuration, on ``clock``.
    package let configuration: ServerConfiguration
    /// The waiters of the log's commit watcher.
    package let waiters = LongPollWaiters()
    /// Counts and holds the store's page reads.
    package let outage = StorageOutage()
    /// The endpoints over the outage-wrapped memory log.
    package let endpoints: SyncEndpoints

    /// A fresh log with no space.
    package init() {
        var configuration = ServerConfiguration()
        configuration.clock = clock
        self.configuration = configuration
        let memory = MemoryEventLog(watcher: CommitWatcher(clock: clock, onWaitersChanged: waiters.changed(by:)))
        endpoints = SyncEndpoints(eventLog: outage.eventLog(over: memory), configuration: configuration)
    }
}
