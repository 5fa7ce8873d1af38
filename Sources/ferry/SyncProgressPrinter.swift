import FerryBench
import FerryClient
import FerryCore
import Synchronization

/// Shows a sync's progress on standard error with ``ProgressReporter``: a bootstrap's
/// records (from ``SyncEngine``'s bootstrap callbacks), then the pull's mutations from the
/// cursor to the head the server answers with. A bar rewritten in place on a terminal,
/// plain lines every few seconds otherwise; nothing when `quiet`.
final class SyncProgressPrinter: Sendable {
    private struct State {
        var bootstrap: ProgressReporter?
        var pull: ProgressReporter?
    }

    private let space: String
    private let quiet: Bool
    private let state = Mutex(State())

    init(space: String, quiet: Bool = false) {
        self.space = space
        self.quiet = quiet
    }

    /// Shows a bootstrap's `progress`.
    func bootstrap(_ progress: BootstrapProgress) {
        let reporter = state.withLock { state in
            if let reporter = state.bootstrap { return reporter }
            let reporter = ProgressReporter.standardError(
                label: "snapshot of \(space) at seq \(progress.snapshotSeq)",
                unit: "records",
                total: Int64(progress.recordsTotal),
                doneAtStart: Int64(progress.recordsDone),
                quiet: quiet
            )
            state.bootstrap = reporter
            return reporter
        }
        if progress.isFinished {
            reporter.finish(done: Int64(progress.recordsDone), total: Int64(progress.recordsTotal))
            state.withLock { $0.bootstrap = nil }
        } else {
            reporter.update(done: Int64(progress.recordsDone), total: Int64(progress.recordsTotal))
        }
    }

    /// Shows a pull's `progress`. A pull of one page shows nothing.
    func pulled(_ progress: PullProgress) {
        let reporter: ProgressReporter? = state.withLock { state in
            if let reporter = state.pull { return reporter }
            guard !progress.isFinished else { return nil }
            let reporter = ProgressReporter.standardError(
                label: "pull \(space)",
                unit: "mutations",
                total: progress.total,
                doneAtStart: progress.done,
                quiet: quiet
            )
            state.pull = reporter
            return reporter
        }
        guard let reporter else { return }
        if progress.isFinished {
            reporter.finish(done: progress.done, total: progress.total)
            state.withLock { $0.pull = nil }
        } else {
            reporter.update(done: progress.done, total: progress.total)
        }
    }
}
