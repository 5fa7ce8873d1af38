import Foundation

/// A process's CPU time, user plus system, read from `/proc/PID/stat` (Linux).
enum ProcessCPU {
    /// The CPU seconds `pid` (`nil`: this process) has used so far, all threads; `nil` where
    /// `/proc` is missing. The resolution is one clock tick (10 ms on most systems).
    static func seconds(of pid: Int32? = nil) -> Double? {
        let path = pid.map { "/proc/\($0)/stat" } ?? "/proc/self/stat"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)": state is field 3, utime field 14, stime field 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ticks > 0 ? (user + system) / ticks : nil
    }
}
