import FerryCore
import Foundation

/// The progress line on standard error: rewritten in place on a terminal, one line per step
/// otherwise (a ``ProgressReporter`` of standard error).
struct BenchProgress {
    private let reporter = ProgressReporter.standardError(label: "bench", unit: "steps")

    /// Shows `message`, with the time since the run began.
    func show(_ message: String) {
        let elapsed = Int(reporter.elapsed.components.seconds)
        reporter.show("[bench \(elapsed / 60):\(String(format: "%02d", elapsed % 60))] \(message)")
    }

    /// Clears the line on a terminal.
    func finish() {
        reporter.clear()
    }
}
