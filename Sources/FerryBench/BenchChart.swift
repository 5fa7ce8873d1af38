import Foundation

/// The curves of a run drawn as one SVG document (`ferry bench --svg FILE`): a panel per family
/// of curves present among the results, each a figure against a size.
struct BenchChart {
    /// A family of curves: the results of `workload` (and, if given, with `filter` among
    /// their figures), `x` against each of `ys`, one curve per `ys` entry and per value of the
    /// text field `split` (such as `phase`).
    struct Family: Sendable {
        var title: String
        var workload: String
        var x: String
        var xLabel: String
        var ys: [String]
        var yLabel: String
        var split: String?
    }

    /// One curve: its name and its points in the order of x.
    struct Curve: Equatable {
        var name: String
        var points: [Point]
    }

    /// A point of a curve.
    struct Point: Equatable {
        var x: Double
        var y: Double
    }

    /// One panel: a family's curves.
    struct Panel {
        var title: String
        var xLabel: String
        var yLabel: String
        var curves: [Curve]
    }

    /// The families drawn: growth against log size and against spaces, fan-out latency
    /// against devices.
    static let families = [
        Family(
            title: "growth: rate against log size",
            workload: "growth",
            x: "log_size",
            xLabel: "mutations already in the space",
            ys: ["value"],
            yLabel: "mutations/s",
            split: "phase"
        ),
        Family(
            title: "growth: rate against spaces",
            workload: "growth",
            x: "spaces",
            xLabel: "spaces on the server",
            ys: ["value"],
            yLabel: "mutations/s",
            split: "phase"
        ),
        Family(
            title: "fan-out: latency against devices",
            workload: "fanout",
            x: "devices",
            xLabel: "devices",
            ys: ["p50", "p99", "max"],
            yLabel: "ms",
            split: "channel"
        ),
    ]

    var panels: [Panel]

    /// The panels of `families` that have at least one point among `results`.
    init(results: [BenchResult], families: [Family] = Self.families) {
        panels = families.compactMap { family in
            let chosen = results.filter { $0.workload == family.workload && $0.figure(family.x) != nil }
            var splits: [String?] = []
            for result in chosen {
                let split = family.split.flatMap { result.label($0) }
                if !splits.contains(split) { splits.append(split) }
            }
            var curves: [Curve] = []
            for split in splits {
                for y in family.ys {
                    let points = chosen.filter { family.split.flatMap($0.label) == split }
                        .compactMap { result -> Point? in
                            guard let x = result.figure(family.x), let value = result.figure(y), x.isFinite, value.isFinite else {
                                return nil
                            }
                            return Point(x: x, y: value)
                        }
                        .sorted { $0.x < $1.x }
                    guard !points.isEmpty else { continue }
                    let name = [split, family.ys.count > 1 || split == nil ? y : nil].compactMap { $0 }.joined(separator: " ")
                    curves.append(Curve(name: name.isEmpty ? y : name, points: points))
                }
            }
            guard !curves.isEmpty else { return nil }
            return Panel(title: family.title, xLabel: family.xLabel, yLabel: family.yLabel, curves: curves)
        }
    }

    // MARK: Drawing

    static let width = 640.0
    static let panelHeight = 360.0
    /// Margins of a panel's plot area: left, right, top, bottom.
    static let margin = (left: 80.0, right: 150.0, top: 40.0, bottom: 60.0)
    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]

    /// The document: panels stacked top to bottom; a line of text when there is none.
    var svg: String {
        let height = Swift.max(1, panels.count) * Int(Self.panelHeight)
        var out = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(Self.width))" height="\(height)" \
            viewBox="0 0 \(Int(Self.width)) \(height)" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>

            """
        if panels.isEmpty {
            out += "<text x=\"20\" y=\"40\">No growth or fan-out results in this run.</text>\n"
        }
        for (index, panel) in panels.enumerated() {
            out += Self.draw(panel, top: Double(index) * Self.panelHeight)
        }
        out += "</svg>\n"
        return out
    }

    /// One panel's elements, its top at `top`.
    static func draw(_ panel: Panel, top: Double) -> String {
        let points = panel.curves.flatMap(\.points)
        let left = margin.left
        let right = width - margin.right
        let plotTop = top + margin.top
        let bottom = top + panelHeight - margin.bottom
        let xAxis = Axis(values: points.map(\.x), from: left, to: right)
        let yAxis = Axis(values: points.map(\.y) + [0], from: bottom, to: plotTop, logarithmic: false)
        var out = "<g>\n"
        out += text(panel.title, x: (left + right) / 2, y: top + 22, anchor: "middle", extra: " font-size=\"14\" font-weight=\"bold\"")
        out += "<line x1=\"\(f(left))\" y1=\"\(f(bottom))\" x2=\"\(f(right))\" y2=\"\(f(bottom))\" stroke=\"black\"/>\n"
        out += "<line x1=\"\(f(left))\" y1=\"\(f(bottom))\" x2=\"\(f(left))\" y2=\"\(f(plotTop))\" stroke=\"black\"/>\n"
        for tick in xAxis.ticks {
            let x = xAxis.position(tick)
            out += "<line x1=\"\(f(x))\" y1=\"\(f(bottom))\" x2=\"\(f(x))\" y2=\"\(f(bottom + 5))\" stroke=\"black\"/>\n"
            out += text(label(tick), x: x, y: bottom + 18, anchor: "middle")
        }
        for tick in yAxis.ticks {
            let y = yAxis.position(tick)
            out += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(right))\" y2=\"\(f(y))\" stroke=\"#dddddd\"/>\n"
            out += text(label(tick), x: left - 6, y: y + 4, anchor: "end")
        }
        let axisNote = xAxis.logarithmic ? " (log scale)" : ""
        out += text(panel.xLabel + axisNote, x: (left + right) / 2, y: bottom + 40, anchor: "middle")
        let middle = (plotTop + bottom) / 2
        out +=
            "<text x=\"\(f(left - 62))\" y=\"\(f(middle))\" text-anchor=\"middle\" transform=\"rotate(-90 \(f(left - 62)) \(f(middle)))\">"
            + escape(panel.yLabel) + "</text>\n"
        for (index, curve) in panel.curves.enumerated() {
            let color = colors[index % colors.count]
            let coordinates = curve.points.map { "\(f(xAxis.position($0.x))),\(f(yAxis.position($0.y)))" }
            out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(coordinates.joined(separator: " "))\"/>\n"
            for point in curve.points {
                out += "<circle cx=\"\(f(xAxis.position(point.x)))\" cy=\"\(f(yAxis.position(point.y)))\" r=\"3\" fill=\"\(color)\">"
                out +=
                    "<title>\(escape("\(curve.name): \(label(point.x)), \(BenchTable.format(point.y)) \(panel.yLabel)"))</title></circle>\n"
            }
            let legendY = plotTop + 10 + Double(index) * 18
            out +=
                "<line x1=\"\(f(right + 12))\" y1=\"\(f(legendY))\" x2=\"\(f(right + 32))\" y2=\"\(f(legendY))\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            out += text(curve.name, x: right + 38, y: legendY + 4, anchor: "start")
        }
        return out + "</g>\n"
    }

    /// A value axis: a linear scale from 0 (or the smallest value), or a logarithmic one when
    /// the positive values span at least a decade; 0 sits a decade below the smallest
    /// positive value on a logarithmic axis.
    struct Axis {
        var low: Double
        var high: Double
        var logarithmic: Bool
        var from: Double
        var to: Double
        var ticks: [Double]

        init(values: [Double], from: Double, to: Double, logarithmic: Bool? = nil) {
            self.from = from
            self.to = to
            let finite = values.filter(\.isFinite)
            let positive = finite.filter { $0 > 0 }
            let spansDecades = (positive.max() ?? 0) >= 10 * (positive.min() ?? .infinity)
            self.logarithmic = logarithmic ?? spansDecades
            if self.logarithmic, let smallest = positive.min(), let largest = positive.max() {
                var lowDecade = floor(log10(smallest))
                if finite.contains(where: { $0 <= 0 }) { lowDecade -= 1 }
                let highDecade = Swift.max(lowDecade + 1, ceil(log10(largest)))
                low = lowDecade
                high = highDecade
                ticks = stride(from: lowDecade, through: highDecade, by: 1).map { pow(10, $0) }
                if finite.contains(where: { $0 <= 0 }) { ticks[0] = 0 }
            } else {
                self.logarithmic = false
                let smallest = Swift.min(0, finite.min() ?? 0)
                let largest = finite.max() ?? 1
                let step = Self.step(Swift.max(largest - smallest, 1e-9) / 5)
                low = floor(smallest / step) * step
                high = Swift.max(low + step, ceil(largest / step) * step)
                ticks = stride(from: low, through: high + step / 2, by: step).map { $0 }
            }
        }

        /// A round step near `raw`: 1, 2 or 5 times a power of ten.
        static func step(_ raw: Double) -> Double {
            let power = pow(10, floor(log10(raw)))
            let fraction = raw / power
            return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power
        }

        /// The coordinate of `value`.
        func position(_ value: Double) -> Double {
            let scaled: Double
            if logarithmic {
                scaled = value > 0 ? log10(value) : low
            } else {
                scaled = value
            }
            let share = high > low ? (scaled - low) / (high - low) : 0
            return from + share * (to - from)
        }
    }

    /// A tick or point label: 1k, 10M, 250 and so on.
    static func label(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        let size = abs(value)
        for (limit, suffix) in [(1e9, "G"), (1e6, "M"), (1e3, "k")] where size >= limit {
            let scaled = value / limit
            return (scaled == scaled.rounded() ? String(Int(scaled)) : String(format: "%.1f", scaled)) + suffix
        }
        return value == value.rounded() ? String(Int(value)) : String(format: "%.2f", value)
    }

    static func text(_ content: String, x: Double, y: Double, anchor: String, extra: String = "") -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\"\(extra)>\(escape(content))</text>\n"
    }

    /// A coordinate with one decimal.
    static func f(_ value: Double) -> String { String(format: "%.1f", value.isFinite ? value : 0) }

    /// `text` with the characters XML reserves escaped.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
