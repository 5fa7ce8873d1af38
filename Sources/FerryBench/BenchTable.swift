import FerryCore
import Foundation

/// The terminal table of a run: the ceilings, then one line per result.
enum BenchTable {
    /// The table's lines.
    static func render(results: [BenchResult], ceilings: [BenchCeiling], header: String) -> String {
        var lines = [header, "", "Ceilings measured in this run (median, min … max):"]
        var ceilingRows: [[String]] = []
        for ceiling in ceilings {
            ceilingRows.append([
                ceiling.name, ceiling.label, "\(format(ceiling.stats.median)) \(ceiling.unit)",
                "\(format(ceiling.stats.min)) … \(format(ceiling.stats.max))",
            ])
        }
        lines += columns(ceilingRows, indent: "  ")
        lines.append("")
        var rows = [["workload", "store", "clients", "value", "min … max", "ceiling", "ratio", "target", "met", "also"]]
        for result in results {
            let ratio = result.ratio.map { String(format: "%.2f", $0) } ?? "–"
            let fields = result.fields.map { "\($0.0) \(text($0.1))" }
            let also = (fields + result.extra.map { "\($0.0) \(format($0.1))" }).joined(separator: ", ")
            rows.append([
                result.workload, result.store,
                result.clients.map { "\($0)" + (result.servers.map { $0 == 1 ? ", 1 server" : ", \($0) servers" } ?? "") } ?? "",
                "\(format(result.stats.median)) \(result.unit)",
                "\(format(result.stats.min)) … \(format(result.stats.max))",
                result.ceiling.map { "\(format($0.stats.median)) \($0.unit)" } ?? "–",
                ratio, result.target?.text ?? "", result.target.map { $0.met ? "yes" : "NO" } ?? "", also,
            ])
        }
        lines += columns(rows, indent: "")
        return lines.joined(separator: "\n")
    }

    /// Rows padded into aligned columns.
    static func columns(_ rows: [[String]], indent: String) -> [String] {
        guard let width = rows.map(\.count).max() else { return [] }
        let widths = (0..<width).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            indent
                + row.enumerated().map { column, cell in cell.padding(toLength: widths[column], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
    }

    /// A field of a result for reading: text as it is, whole numbers grouped, other numbers as
    /// ``format(_:)`` writes them.
    static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .int(let number): grouped(Int(number))
        case .double(let number): format(number)
        case .null: "–"
        default: value.line
        }
    }

    /// A figure for reading: thousands grouped for large numbers, two decimals for small ones.
    static func format(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        if abs(value) >= 1000 { return grouped(Int(value.rounded())) }
        if abs(value) >= 100 { return String(format: "%.0f", value) }
        return String(format: "%.2f", value)
    }

    /// An integer with its thousands separated by commas.
    static func grouped(_ value: Int) -> String {
        let digits = String(abs(value))
        var out = ""
        for (position, digit) in digits.enumerated() {
            if position > 0 && (digits.count - position) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return value < 0 ? "-" + out : out
    }
}
