import Foundation

/// This process's memory, read from `/proc/self/status` (Linux).
enum ProcessMemory {
    /// The peak resident set size so far (`VmHWM`), in MiB; `nil` where `/proc` is missing.
    static func peakResidentMB() -> Double? { field("VmHWM:") }

    /// The resident set size now (`VmRSS`), in MiB; `nil` where `/proc` is missing.
    static func residentMB() -> Double? { field("VmRSS:") }

    private static func field(_ name: String) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
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
