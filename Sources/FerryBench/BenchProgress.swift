import Foundation

/// The progress line on standard error: rewritten in place on a terminal, one line per step
/// otherwise.
struct BenchProgress {
    private let terminal = isatty(STDERR_FILENO) != 0
    private let start = ContinuousClock.now

    /// Shows `message`, with the time since the run began.
    func show(_ message: String) {
        let elapsed = Int((ContinuousClock.now - start).seconds)
        let line = "[bench \(elapsed / 60):\(String(format: "%02d", elapsed % 60))] \(message)"
        if terminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        } else {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    /// Clears the line on a terminal.
    func finish() {
        if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
