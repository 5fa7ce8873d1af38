import FerryCore
import Foundation

extension BenchRunner {
    /// Runs the plan and writes its report with `write`: with `json`, one line per result as
    /// soon as it is known (so that a run cut short keeps what it measured), then one per
    /// ceiling; otherwise the table, headed by the run's settings (`durability` among them).
    /// With `svg`, the curves of the results are also drawn into that file (see ``BenchChart``).
    /// What was measured is written even when a workload fails; the failure is thrown after.
    package func runAndReport(json: Bool, durability: String, svg: String? = nil, write: @escaping (String) -> Void) async throws {
        if json { onResult = { write($0.json.line) } }
        let started = ContinuousClock.now
        var failure: (any Error)?
        do {
            try await run()
        } catch {
            progress.finish()
            failure = error
        }
        let elapsed = (ContinuousClock.now - started).seconds

        if json {
            for ceiling in ceilings { write(BenchResult.json(ceiling: ceiling, store: storeName).line) }
        } else if !results.isEmpty || failure == nil {
            let header = """
                ferry bench: store \(storeName), durability \(durability), N \(BenchTable.grouped(plan.count)), \
                backlog \(BenchTable.grouped(plan.backlog)), rounds \(plan.rounds) (backlog \(plan.backlogRounds)), \
                \(ProcessInfo.processInfo.activeProcessorCount) cores, \(String(format: "%.0f", elapsed)) s
                """
            write(BenchTable.render(results: results, ceilings: ceilings, header: header))
        }
        if let svg { try BenchChart(results: results).svg.write(toFile: svg, atomically: true, encoding: .utf8) }
        if let failure { throw failure }
    }
}
