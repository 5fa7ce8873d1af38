import ArgumentParser
import FerryTestKit
import Foundation

/// `ferry-simulate`: runs Ferry's deterministic simulation for one seed or many (see
/// docs/testing.md). `scripts/simulate` builds and runs it.
@main
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry-simulate",
        abstract: "Run Ferry's deterministic simulation of devices syncing through a faulty network.",
        discussion: """
            With --seed, replays that seed exactly. With --seeds N, runs seeds S, S+1, … from \
            --first-seed (a random one, printed, when not given) and stops at the first failure. \
            A failure prints its seed, the invariant broken, and the shortest step list found; \
            the exit status is 1.
            """
    )

    @Option(help: "Replay this seed.")
    var seed: UInt64?

    @Option(help: "How many seeds to run.")
    var seeds: Int = 1

    @Option(name: .customLong("first-seed"), help: "The first seed of --seeds (random when not given).")
    var firstSeed: UInt64?

    @Option(help: "Devices per run.")
    var devices: Int = 3

    @Option(help: "Steps per run.")
    var steps: Int = 150

    @Option(help: "Seeds run side by side (default: the number of cores).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Print the trace of each step of a --seed run.")
    var verbose = false

    func validate() throws {
        guard seeds >= 1 else { throw ValidationError("--seeds must be at least 1") }
        guard devices >= 1, devices <= 16 else { throw ValidationError("--devices must be between 1 and 16") }
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1") }
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        if seed != nil, firstSeed != nil { throw ValidationError("give --seed or --first-seed, not both") }
    }

    func run() async throws {
        let simulation = Simulation(configuration: Simulation.Configuration(devices: devices, steps: steps))
        let first = seed ?? firstSeed ?? UInt64.random(in: 0..<(1 << 48))
        let count = seed == nil ? seeds : 1
        if seed == nil { print("seeds \(first) to \(first + UInt64(count) - 1) (\(devices) devices, \(steps) steps each)") }
        var totals = Simulation.Statistics()
        let clock = ContinuousClock()
        let started = clock.now
        // Seeds are independent: `jobs` of them run side by side. After a failure no new seed
        // starts, and the lowest failing seed of those run is reported.
        var failed: (seed: UInt64, outcome: Simulation.Outcome)?
        var done = 0
        await withTaskGroup(of: (UInt64, Simulation.Outcome).self) { group in
            var next = 0
            func startNext() {
                guard next < count else { return }
                let current = first + UInt64(next)
                next += 1
                group.addTask { (current, await simulation.run(seed: current)) }
            }
            for _ in 0..<max(1, jobs) { startNext() }
            while let (current, outcome) = await group.next() {
                totals.add(outcome.statistics)
                done += 1
                if outcome.failure != nil {
                    // No new seeds start; those running finish (a cancelled one would fail falsely).
                    if failed.map({ current < $0.seed }) ?? true { failed = (current, outcome) }
                    continue
                }
                if failed == nil {
                    if count > 1, done % 100 == 0 { print("\(done) seeds clean") }
                    startNext()
                }
            }
        }
        if let (current, outcome) = failed, let failure = outcome.failure {
            if verbose { printTrace(of: outcome) }
            print("seed \(current) FAILED: \(failure)")
            print("shortest step list found (\(outcome.steps.count) steps), replay with scripts/simulate --seed \(current):")
            print("[")
            for step in outcome.steps { print("    \(step),") }
            print("]")
            throw ExitCode(1)
        }
        if verbose, count == 1 {
            printTrace(of: await simulation.run(simulation.steps(seed: first)))
        }
        let elapsed = clock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(
            "\(count) seed\(count == 1 ? "" : "s") clean in \((seconds * 10).rounded() / 10) s: \(totals.logSize) mutations logged, \(totals.conflicts) conflicts, \(totals.deadLetters) dead letters, \(totals.crashes) crashes, \(totals.faults) network faults, \(totals.logResets) log resets, \(totals.bootstraps) bootstraps, \(totals.consumerRuns) consumer runs, \(totals.unlearnableConflicts) conflicts a device could not learn of"
        )
    }

    /// Prints each step with the state after it.
    private func printTrace(of outcome: Simulation.Outcome) {
        for (index, line) in outcome.trace.enumerated() {
            print("\(index < outcome.steps.count ? "\(outcome.steps[index])" : "quiescence"): \(line)")
        }
    }
}
