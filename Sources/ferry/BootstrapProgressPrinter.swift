import FerryClient
import Foundation
import Synchronization

/// Shows a bootstrap's progress on standard error: a bar redrawn in place when standard
/// error is a terminal, otherwise a plain line per chunk at most once a second (and the
/// last one always). Records, bytes, rate and time left.
final class BootstrapProgressPrinter: Sendable {
    private struct State {
        var start: ContinuousClock.Instant?
        var lastLine: ContinuousClock.Instant?
        var startRecords = 0
    }

    private let isTerminal = isatty(STDERR_FILENO) != 0
    private let clock = ContinuousClock()
    private let state = Mutex(State())

    /// Prints `progress`.
    func show(_ progress: BootstrapProgress) {
        let now = clock.now
        let text: String? = state.withLock { state in
            if state.start == nil {
                state.start = now
                state.startRecords = progress.recordsDone
            }
            let elapsed = now - state.start!
            if !isTerminal && !progress.isFinished, let last = state.lastLine, now - last < .seconds(1),
                progress.chunksDone < progress.chunksTotal
            {
                return nil
            }
            state.lastLine = now
            return Self.line(progress, elapsed: elapsed, recordsAtStart: state.startRecords, bar: isTerminal)
        }
        guard let text else { return }
        let output = isTerminal ? "\r\u{1B}[2K" + text + (progress.isFinished ? "\n" : "") : text + "\n"
        FileHandle.standardError.write(Data(output.utf8))
    }

    /// One progress line: `[#####.....] 50% 5000/10000 records, 1.2/2.4 MB, 2500 records/s, 2s left`.
    static func line(_ progress: BootstrapProgress, elapsed: Duration, recordsAtStart: Int, bar: Bool) -> String {
        let total = max(progress.recordsTotal, 1)
        let fraction = progress.isFinished ? 1 : min(1, Double(progress.recordsDone) / Double(total))
        var text = "snapshot at seq \(progress.snapshotSeq): "
        if bar {
            let width = 30
            let filled = Int(fraction * Double(width))
            text += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
        }
        text += "\(Int(fraction * 100))% \(progress.recordsDone)/\(progress.recordsTotal) records, "
        text += "\(megabytes(progress.bytesDone))/\(megabytes(progress.bytesTotal)) MB"
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let done = progress.recordsDone - recordsAtStart
        if seconds > 0, done > 0 {
            let rate = Double(done) / seconds
            text += ", \(Int(rate)) records/s"
            if !progress.isFinished {
                text += ", \(Int((Double(progress.recordsTotal - progress.recordsDone) / rate).rounded(.up)))s left"
            }
        }
        if progress.isFinished { text += ", done" }
        return text
    }

    private static func megabytes(_ bytes: Int) -> String {
        String(format: "%.1f", Double(bytes) / 1_000_000)
    }
}
