import Foundation

/// A process's memory, read from `/proc/PID/status` (Linux): this process's by default.
enum ProcessMemory {
    /// The peak resident set size so far (`VmHWM`), in MiB; `nil` where `/proc` is missing.
    static func peakResidentMB(of pid: Int32? = nil) -> Double? { field("VmHWM:", pid: pid) }

    /// The resident set size now (`VmRSS`), in MiB; `nil` where `/proc` is missing.
    static func residentMB(of pid: Int32? = nil) -> Double? { field("VmRSS:", pid: pid) }

    private static func field(_ name: String, pid: Int32?) -> Double? {
        let path = pid.map { "/proc/\($0)/status" } ?? "/proc/self/status"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            // "VmHWM:	   12345 kB"
            let digits = line.dropFirst(name.count).split(separator: " ", omittingEmptySubsequences: true)
                .first { Int($0.trimmingCharacters(in: .whitespaces)) != nil }
            guard let digits, let kilobytes = Int(digits.trimmingCharacters(in: .whitespaces)) else { return nil }
            return Double(kilobytes) / 1024
        }
        return nil
    }
}
