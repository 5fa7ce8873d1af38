import FerryCore
import Foundation

/// The median, minimum and maximum of several rounds' figures.
struct BenchStats: Sendable {
    var median: Double
    var min: Double
    var max: Double
    var count: Int

    init(median: Double, min: Double, max: Double, count: Int) {
        self.median = median
        self.min = min
        self.max = max
        self.count = count
    }

    init(_ values: [Double]) {
        let sorted = values.sorted()
        count = sorted.count
        min = sorted.first ?? .nan
        max = sorted.last ?? .nan
        if sorted.isEmpty {
            median = .nan
        } else if sorted.count % 2 == 1 {
            median = sorted[sorted.count / 2]
        } else {
            median = (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
    }

    /// The value at quantile `q` (0…1) of `values`, nearest rank.
    static func quantile(_ q: Double, of values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
        return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank))]
    }
}

/// A limit measured in the same run: what the workload could reach at best on this machine now.
struct BenchCeiling: Sendable {
    /// A short name, such as `sqlite_insert_log`.
    var name: String
    /// What was measured, for the table.
    var label: String
    /// The figures of its rounds (in the workload's unit).
    var stats: BenchStats
    /// The workload's unit.
    var unit: String
}

/// One workload's figures: the median of its rounds with min and max, and its ratio to its ceiling.
struct BenchResult: Sendable {
    var workload: String
    var store: String
    var clients: Int?
    /// Servers the clients were spread over, when more than one (push on PostgreSQL).
    var servers: Int?
    var stats: BenchStats
    var unit: String
    var ceiling: BenchCeiling?
    /// Extra figures: `p50`, `p99`, `max` (ms) for latency, `peak_rss_mb` for sync and backlog.
    var extra: [(String, Double)] = []
    /// Fields written into the JSON object as they are, beside the figures: the growth
    /// workload's `phase`, `log_size` or `spaces` and `ratio_to_smallest`.
    var fields: [(String, JSONValue)] = []
    /// The target for this figure, as text, and whether it was met.
    var target: (text: String, met: Bool)?

    /// The value divided by the ceiling for throughputs; the ceiling divided by the value for
    /// latencies (a floor). 1 means the workload runs at the limit.
    var ratio: Double? {
        guard let ceiling, ceiling.stats.median > 0, stats.median > 0 else { return nil }
        return unit == "ms" ? ceiling.stats.median / stats.median : stats.median / ceiling.stats.median
    }

    /// The result as one JSON object, the format of `ferry bench --json`.
    var json: JSONValue {
        var object: [String: JSONValue] = [
            "workload": .string(workload),
            "store": .string(store),
            "value": Self.number(stats.median),
            "unit": .string(unit),
            "min": Self.number(stats.min),
            "max": Self.number(stats.max),
            "rounds": .int(Int64(stats.count)),
            "ceiling": ceiling.map { Self.number($0.stats.median) } ?? .null,
            "ratio": ratio.map { Self.number($0, digits: 3) } ?? .null,
        ]
        if let clients { object["clients"] = .int(Int64(clients)) }
        if let servers { object["servers"] = .int(Int64(servers)) }
        if let ceiling { object["ceiling_name"] = .string(ceiling.name) }
        if let target { object["target"] = .string(target.text); object["target_met"] = .bool(target.met) }
        for (name, value) in extra { object[name] = Self.number(value, digits: 2) }
        for (name, value) in fields { object[name] = value }
        return .object(object)
    }

    /// The figure `name`: `value` (the median), an extra figure, or a numeric field; `nil`
    /// when the result has none of that name.
    func figure(_ name: String) -> Double? {
        if name == "value" { return stats.median }
        if let extra = extra.first(where: { $0.0 == name }) { return extra.1 }
        switch fields.first(where: { $0.0 == name })?.1 {
        case .int(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }

    /// The text field `name`, if the result has one.
    func label(_ name: String) -> String? {
        if case .string(let text) = fields.first(where: { $0.0 == name })?.1 { return text }
        return nil
    }

    /// A ceiling as a JSON object of its own (workload `ceiling`).
    static func json(ceiling: BenchCeiling, store: String) -> JSONValue {
        .object([
            "workload": .string("ceiling"),
            "name": .string(ceiling.name),
            "store": .string(store),
            "value": number(ceiling.stats.median),
            "unit": .string(ceiling.unit),
            "min": number(ceiling.stats.min),
            "max": number(ceiling.stats.max),
            "rounds": .int(Int64(ceiling.stats.count)),
        ])
    }

    /// A number rounded for reading: integers for large figures, `digits` decimals otherwise.
    static func number(_ value: Double, digits: Int = 2) -> JSONValue {
        guard value.isFinite else { return .null }
        if abs(value) >= 1000 { return .int(Int64(value.rounded())) }
        let scale = pow(10, Double(digits))
        return .double((value * scale).rounded() / scale)
    }
}

/// Compact line rendering of JSON values for `--json`.
extension JSONValue {
    /// The value as compact JSON text on one line.
    package var line: String { String(decoding: serialized(), as: UTF8.self) }
}
