import FerryCore
import FerryServer
import FerryTestSupport
import Foundation
import Testing

@testable import FerryBench

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The growth workload's results and the chart of `ferry bench --svg`.
@Suite struct BenchGrowthTests {
    private func stats(_ value: Double) -> BenchStats { BenchStats([value]) }

    @Test func aGrowthPointIsOneJSONObjectWithItsPhaseSizeAndRatioToTheSmallest() throws {
        let results = BenchResult.growth(
            store: "sqlite",
            phase: "push",
            sizeField: "log_size",
            unit: "mutations/s",
            points: [.init(size: 0, stats: stats(40_000)), .init(size: 10_000_000, stats: stats(30_000))]
        )
        #expect(results.count == 2)
        guard case .object(let object) = results[1].json else {
            Issue.record("not an object")
            return
        }
        #expect(object["workload"] == .string("growth"))
        #expect(object["store"] == .string("sqlite"))
        #expect(object["phase"] == .string("push"))
        #expect(object["log_size"] == .int(10_000_000))
        #expect(object["spaces"] == nil)
        #expect(object["value"] == .int(30_000))
        #expect(object["unit"] == .string("mutations/s"))
        #expect(object["ratio_to_smallest"] == .double(0.75))
        #expect(object["target_met"] == .bool(false))
        #expect(object["rounds"] == .int(1))
        guard case .object(let first) = results[0].json else { return }
        #expect(first["log_size"] == .int(0))
        #expect(first["ratio_to_smallest"] == .double(1))
        #expect(first["target_met"] == .bool(true))
        // One line of JSON, readable back.
        let line = results[1].json.line
        #expect(!line.contains("\n"))
        _ = try JSONValue(parsing: line)
    }

    @Test func theRatioIsToTheSmallestSizeWhateverTheOrder() {
        let results = BenchResult.growth(
            store: "postgres",
            phase: "pull",
            sizeField: "spaces",
            unit: "mutations/s",
            points: [
                .init(size: 100_000, stats: stats(900), extra: [("kb_per_space", 0.5)]),
                .init(size: 1_000, stats: stats(1000)),
            ]
        )
        #expect(results.map { $0.figure("ratio_to_smallest") } == [0.9, 1])
        #expect(results.map { $0.figure("spaces") } == [100_000, 1_000])
        #expect(results.map { $0.target?.met } == [true, true])
        #expect(results[0].figure("kb_per_space") == 0.5)
        #expect(results[0].label("phase") == "pull")
        // A smallest point of rate 0 (or none measured) gives no ratio, and no target met.
        let broken = BenchResult.growth(
            store: "sqlite",
            phase: "push",
            sizeField: "log_size",
            unit: "mutations/s",
            points: [.init(size: 0, stats: BenchStats([])), .init(size: 10, stats: stats(5))]
        )
        #expect(broken.map { $0.target?.met } == [false, false])
        guard case .object(let object) = broken[1].json else { return }
        #expect(object["ratio_to_smallest"] == .null)
    }

    @Test func theTableShowsTheFieldsOfAGrowthPoint() {
        let results = BenchResult.growth(
            store: "sqlite",
            phase: "push",
            sizeField: "log_size",
            unit: "mutations/s",
            points: [.init(size: 0, stats: stats(40_000)), .init(size: 1_000_000, stats: stats(36_000))]
        )
        let table = BenchTable.render(results: results, ceilings: [], header: "bench")
        #expect(table.contains("phase push, log_size 1,000,000, ratio_to_smallest 0.90"))
    }

    /// Hand-made results of both families: growth against log size and spaces, and fan-out.
    private var chartResults: [BenchResult] {
        var results = BenchResult.growth(
            store: "sqlite",
            phase: "push",
            sizeField: "log_size",
            unit: "mutations/s",
            points: [
                .init(size: 0, stats: stats(40_000)), .init(size: 1_000_000, stats: stats(38_000)),
                .init(size: 10_000_000, stats: stats(35_000)),
            ]
        )
        results += BenchResult.growth(
            store: "sqlite",
            phase: "pull",
            sizeField: "log_size",
            unit: "mutations/s",
            points: [.init(size: 0, stats: stats(200_000)), .init(size: 10_000_000, stats: stats(.nan))]
        )
        results += BenchResult.growth(
            store: "sqlite",
            phase: "push",
            sizeField: "spaces",
            unit: "mutations/s",
            points: [.init(size: 1_000, stats: stats(9_000)), .init(size: 100_000, stats: stats(8_500))]
        )
        for (devices, p50) in [(10, 3.0), (100, 5.5), (1000, 21.0)] {
            var fanout = BenchResult(workload: "fanout", store: "sqlite", stats: stats(p50), unit: "ms")
            fanout.extra = [("devices", Double(devices)), ("p50", p50), ("p99", p50 * 3), ("max", p50 * 5)]
            results.append(fanout)
        }
        return results
    }

    @Test func theChartHasAPanelPerFamilyAndACurvePerPhaseOrFigure() {
        let chart = BenchChart(results: chartResults)
        #expect(chart.panels.map(\.title) == BenchChart.families.map(\.title))
        #expect(chart.panels[0].curves.map(\.name) == ["push", "pull"])
        #expect(
            chart.panels[0].curves[0].points == [.init(x: 0, y: 40_000), .init(x: 1_000_000, y: 38_000), .init(x: 10_000_000, y: 35_000)]
        )
        // The pull at 10M was not measured (NaN): left out.
        #expect(chart.panels[0].curves[1].points == [.init(x: 0, y: 200_000)])
        #expect(chart.panels[2].curves.map(\.name) == ["p50", "p99", "max"])
        #expect(chart.panels[2].curves[1].points.map(\.y) == [9, 16.5, 63])
        #expect(BenchChart.Axis(values: [0, 1_000_000, 10_000_000], from: 0, to: 100).logarithmic)
        #expect(BenchChart.Axis(values: [10, 100, 1000], from: 0, to: 100).logarithmic)
        #expect(!BenchChart.Axis(values: [1_000, 5_000], from: 0, to: 100).logarithmic)
    }

    @Test func theSVGIsValidXMLWithAPointPerMeasuredFigure() throws {
        let svg = BenchChart(results: chartResults).svg
        let elements = try parsedElements(svg)
        #expect(elements.first == "svg")
        // 3 + 1 growth points against log size, 2 against spaces, 3 × 3 of fan-out.
        #expect(elements.filter { $0 == "circle" }.count == 15)
        // Curves: push and pull against log size, push against spaces, p50, p99 and max.
        #expect(elements.filter { $0 == "polyline" }.count == 2 + 1 + 3)
        #expect(svg.contains("fan-out: latency against devices"))
        #expect(svg.contains("(log scale)"))
        #expect(svg.contains("10M"))
        #expect(!svg.contains("nan"))
    }

    @Test func anSVGWithoutCurvesIsStillValidAndSaysSo() throws {
        let svg = BenchChart(results: []).svg
        #expect(try parsedElements(svg).contains("svg"))
        #expect(svg.contains("No growth or fan-out results"))
        var odd = BenchResult(workload: "fanout", store: "sqlite", stats: BenchStats([]), unit: "ms")
        odd.extra = [("devices", .nan), ("p50", .infinity)]
        #expect(BenchChart(results: [odd]).panels.isEmpty)
    }

    /// The names of the elements of `xml`, in document order; throws when it does not parse.
    private func parsedElements(_ xml: String) throws -> [String] {
        final class Collector: NSObject, XMLParserDelegate {
            var names: [String] = []
            func parser(
                _ parser: XMLParser,
                didStartElement elementName: String,
                namespaceURI: String?,
                qualifiedName: String?,
                attributes: [String: String] = [:]
            ) {
                names.append(elementName)
            }
        }
        let parser = XMLParser(data: Data(xml.utf8))
        let collector = Collector()
        parser.delegate = collector
        guard parser.parse() else { throw BenchError("not XML: \(parser.parserError.map { "\($0)" } ?? "?")") }
        return collector.names
    }
}

/// A real growth run at tiny sizes: seeded logs and spaces served back through `ferry serve`.
@Suite(.serialized, .tags(.realTime)) struct BenchGrowthRunTests {
    @Test func aTinyGrowthRunMeasuresEveryPointOfBothCurves() async throws {
        let plan = BenchPlan(
            workloads: [.growth],
            quick: true,
            count: nil,
            backlog: nil,
            rounds: 1,
            backlogRounds: nil,
            latencyWrites: nil,
            ferry: ServerProcess.executable,
            growthLogSizes: [0, 3_000],
            growthSpaces: [20, 300],
            growthCount: 500
        )
        let runner = try BenchRunner(plan: plan, target: .local(.sqlite(durability: .normal)))
        try await runner.run()
        let results = runner.results
        #expect(results.count == 8)
        #expect(results.allSatisfy { $0.workload == "growth" && $0.stats.median > 0 })
        #expect(results.compactMap { $0.figure("log_size") } == [0, 3_000, 0, 3_000])
        #expect(results.compactMap { $0.figure("spaces") } == [20, 300, 20, 300])
        #expect(results.map { $0.label("phase") ?? "" } == ["push", "push", "pull", "pull", "push", "push", "pull", "pull"])
        #expect(results.filter { $0.figure("spaces") != nil }.allSatisfy { $0.figure("kb_per_space") != nil })
    }
}
