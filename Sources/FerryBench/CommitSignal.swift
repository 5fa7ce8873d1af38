import Foundation
import GRDB
import Synchronization

/// Notes the moment each transaction that changed one table commits: how the latency
/// workload sees device B's applied row, without polling B's database.
final class CommitSignal: TransactionObserver, Sendable {
    private struct State {
        var changed = false
        var commits: [ContinuousClock.Instant] = []
    }

    private let table: String
    private let state = Mutex(State())

    /// Watches commits that change `table`.
    init(table: String) { self.table = table }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { eventKind.tableName == table }

    func databaseDidChange(with event: DatabaseEvent) { state.withLock { $0.changed = true } }

    func databaseDidCommit(_ db: Database) {
        let now = ContinuousClock.now
        state.withLock { state in
            if state.changed { state.commits.append(now) }
            state.changed = false
        }
    }

    func databaseDidRollback(_ db: Database) { state.withLock { $0.changed = false } }

    /// Forgets the commits seen so far.
    func reset() { state.withLock { $0.commits.removeAll() } }

    /// The moment of the first commit not yet taken, waiting up to `timeout` for one. The
    /// moment is taken at the commit, so the half-millisecond poll here does not add to it.
    func next(timeout: Duration) async throws -> ContinuousClock.Instant {
        let deadline = ContinuousClock.now + timeout
        while true {
            let first = state.withLock { state -> ContinuousClock.Instant? in
                state.commits.isEmpty ? nil : state.commits.removeFirst()
            }
            if let first { return first }
            guard ContinuousClock.now < deadline else { throw BenchError("no commit on \(table) within \(timeout)") }
            try await Task.sleep(for: .microseconds(500))
        }
    }
}
