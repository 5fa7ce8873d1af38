import FerryCore
import Foundation

extension ProgressReporter {
    /// A reporter that writes to standard error: a line rewritten in place when standard
    /// error is a terminal, plain lines otherwise, nothing when `quiet`. The time is the
    /// continuous clock's. Standard output is left to the command's own output.
    public static func standardError(
        label: String,
        unit: String,
        total: Int64? = nil,
        doneAtStart: Int64 = 0,
        quiet: Bool = false
    ) -> ProgressReporter {
        let clock = ContinuousClock()
        let origin = clock.now
        let style: Style = quiet ? .silent : (isatty(STDERR_FILENO) != 0 ? .terminal : .plain)
        return ProgressReporter(
            label: label,
            unit: unit,
            total: total,
            doneAtStart: doneAtStart,
            style: style,
            now: { clock.now - origin },
            write: { text in FileHandle.standardError.write(Data(text.utf8)) }
        )
    }
}
