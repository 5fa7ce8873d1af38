import FerryClient
import FerryCore
import FerryLog
import Synchronization

/// A deterministic simulation of many devices syncing one space through a faulty network,
/// in the manner of FoundationDB's: one seed decides every step, and the invariants of
/// Ferry's promise are checked after each step and at the end.
///
/// Each device is a real `LocalStore` on its own in-memory SQLite database, synced by a real
/// `SyncEngine`; the server is the server's own push and pull (``InMemoryTransport``'s) on a
/// memory store, behind real token checks. Between them, the steps lose requests and answers,
/// hold a push back until after later ones, deliver pushes twice, crash a device inside the
/// transaction that applies a page or a snapshot chunk, restart the server, expire the
/// tokens, recreate the log with a new `log_id`, push rows every device's database refuses,
/// build snapshots and prune the log (devices then bootstrap), and reinstall the app on a
/// device; and a stream consumer (the real `EventPipeline`) whose acknowledgements are lost
/// and which crashes. Time is simulated: a run never waits.
///
/// The invariants: the log's seqs are dense and no dedup triple is in it twice; every
/// mutation a device was told is stored (in the current log) is in the log under that seq;
/// a device's cursor never moves backwards in a log; dead letters only for poison rows, and
/// no valid write refused. When every device has synced with no faults: no device has
/// anything pending, every device's rows are identical and equal to a replay of the
/// server's log; every concurrent overwrite (a mutation written on a base older than
/// another device's change to the same fields) is recorded as a conflict on the device that
/// wrote it; the stream consumer's records are a replay of the events above its start.
/// And for the consumer after each of its runs: a checkpoint never moves back without a
/// reset, and never passes what the consumer flushed.
///
/// ```swift
/// let simulation = Simulation()
/// let outcome = await simulation.run(seed: 42)
/// if let failure = outcome.failure { print(failure) }          // the shrunk step list is in outcome.steps
/// ```
public struct Simulation: Sendable {
    /// The shape of a run.
    public struct Configuration: Sendable {
        /// Devices. Default 3.
        public var devices: Int
        /// Steps generated per seed. Default 150.
        public var steps: Int
        /// The tables the app writes.
        public var schema: SimulationSchema
        /// Mutations per push (small, so that a sync pushes in several batches). Default 3.
        public var pushBatchSize: Int
        /// Mutations per pull page (small, so that pulls page and read ahead). Default 4.
        public var pullLimit: Int
        /// How far a snapshot must be ahead of a device at 0 for it to bootstrap (the
        /// engine's `bootstrapThreshold`; small, so that bootstraps happen). Default 5.
        public var bootstrapThreshold: Int64
        /// Shrinking runs the simulation again at most this many times. Default 400.
        public var shrinkBudget: Int

        /// Creates a configuration.
        public init(
            devices: Int = 3,
            steps: Int = 150,
            schema: SimulationSchema = .standard,
            pushBatchSize: Int = 3,
            pullLimit: Int = 4,
            bootstrapThreshold: Int64 = 5,
            shrinkBudget: Int = 400
        ) {
            self.devices = devices
            self.steps = steps
            self.schema = schema
            self.pushBatchSize = pushBatchSize
            self.pullLimit = pullLimit
            self.bootstrapThreshold = bootstrapThreshold
            self.shrinkBudget = shrinkBudget
        }
    }

    /// What a run found.
    public struct Outcome: Sendable {
        /// The steps run (after shrinking, for a failed ``Simulation/run(seed:)``).
        public var steps: [SimulationStep]
        /// The broken invariant, or `nil` when every one held.
        public var failure: SimulationFailure?
        /// One line per step: the log's head and epoch, each device's cursor and pending
        /// count. Two runs of the same steps give the same trace.
        public var trace: [String]
        /// What happened: counts of conflicts, dead letters, crashes, faults and resets.
        public var statistics: Statistics
    }

    /// Counts of what a run did.
    public struct Statistics: Sendable, Hashable {
        /// Mutations in the log at the end.
        public var logSize = 0
        /// Conflicts recorded on devices.
        public var conflicts = 0
        /// Dead letters on devices.
        public var deadLetters = 0
        /// Devices crashed inside a transaction.
        public var crashes = 0
        /// Requests a fault struck.
        public var faults = 0
        /// Logs recreated.
        public var logResets = 0
        /// Bootstraps from a snapshot completed.
        public var bootstraps = 0
        /// Runs of the stream consumer that ended with `SyncComplete`.
        public var consumerRuns = 0
        /// Concurrent overwrites a device could not learn of: the answer that reported one
        /// was lost, another device wrote the record before the push was sent again, and the
        /// overwritten change reached the device inside a snapshot (docs/testing.md).
        public var unlearnableConflicts = 0

        /// All zero.
        public init() {}

        /// Adds `other`'s counts.
        public mutating func add(_ other: Statistics) {
            logSize += other.logSize
            conflicts += other.conflicts
            deadLetters += other.deadLetters
            crashes += other.crashes
            faults += other.faults
            logResets += other.logResets
            bootstraps += other.bootstraps
            consumerRuns += other.consumerRuns
            unlearnableConflicts += other.unlearnableConflicts
        }
    }

    /// The shape of the runs.
    public var configuration: Configuration

    /// Creates a simulation.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The steps of `seed`.
    public func steps(seed: UInt64) -> [SimulationStep] {
        var generator = SeededGenerator(seed: seed)
        return SimulationStep.generate(
            count: configuration.steps,
            devices: configuration.devices,
            schema: configuration.schema,
            using: &generator
        )
    }

    /// Runs the steps of `seed`; when an invariant breaks, shrinks the steps to a shortest
    /// list that still breaks it (``Outcome/steps``).
    public func run(seed: UInt64) async -> Outcome {
        let outcome = await run(steps(seed: seed))
        guard let failure = outcome.failure else { return outcome }
        return await shrink(outcome.steps, failure: failure)
    }

    /// Runs `steps`, then brings every device up to date with no faults, checking the
    /// invariants.
    public func run(_ steps: [SimulationStep]) async -> Outcome {
        let run: SimulationRun
        do {
            run = try await SimulationRun(configuration: configuration)
        } catch {
            return Outcome(
                steps: steps,
                failure: SimulationFailure(invariant: "setup", step: nil, message: "\(error)"),
                trace: [],
                statistics: Statistics()
            )
        }
        var trace: [String] = []
        var failure: SimulationFailure?
        for (index, step) in steps.enumerated() {
            do {
                try await run.perform(step)
                // Only a step's own device changes (a server-side step changes none until it syncs).
                let acted = step.device.map { [$0] } ?? []
                try await run.checkAfterStep(devices: acted)
                trace.append(try await run.traceLine(devices: acted))
            } catch var error as SimulationFailure {
                error.step = index
                failure = error
                break
            } catch {
                failure = SimulationFailure(invariant: "step failed", step: index, message: "\(step): \(error)")
                break
            }
        }
        if failure == nil {
            do {
                try await run.quiesce()
                try await run.checkAfterStep()
                try await run.checkAtQuiescence()
                trace.append(try await run.traceLine())
            } catch let error as SimulationFailure {
                failure = error
            } catch {
                failure = SimulationFailure(invariant: "quiescence failed", step: nil, message: "\(error)")
            }
        }
        return Outcome(steps: steps, failure: failure, trace: trace, statistics: (try? await run.statistics()) ?? Statistics())
    }

    /// Removes steps, then faults, while the run still breaks the same invariant: the
    /// shortest failing list found within ``Configuration/shrinkBudget`` runs.
    public func shrink(_ steps: [SimulationStep], failure: SimulationFailure) async -> Outcome {
        var best = steps
        var bestOutcome = Outcome(steps: steps, failure: failure, trace: [], statistics: Statistics())
        var runs = 0
        func stillFails(_ candidate: [SimulationStep]) async -> Outcome? {
            runs += 1
            let outcome = await run(candidate)
            return outcome.failure?.invariant == failure.invariant ? outcome : nil
        }
        var chunk = max(1, best.count / 2)
        while chunk >= 1 && runs < configuration.shrinkBudget {
            var start = 0
            var removed = false
            while start < best.count && runs < configuration.shrinkBudget {
                var candidate = best
                candidate.removeSubrange(start..<min(best.count, start + chunk))
                if let outcome = await stillFails(candidate) {
                    best = candidate
                    bestOutcome = outcome
                    removed = true
                } else {
                    start += chunk
                }
            }
            if !removed { chunk /= 2 }
        }
        for index in best.indices where runs < configuration.shrinkBudget {
            guard let plain = best[index].withoutFaults else { continue }
            var candidate = best
            candidate[index] = plain
            if let outcome = await stillFails(candidate) {
                best = candidate
                bestOutcome = outcome
            }
        }
        bestOutcome.steps = best
        return bestOutcome
    }
}

/// An invariant a ``Simulation`` found broken.
public struct SimulationFailure: Error, Sendable, CustomStringConvertible {
    /// Which invariant: shrinking keeps a step list only while it breaks the same one.
    public var invariant: String
    /// The index of the step after which it broke; `nil` at the end of the run.
    public var step: Int?
    /// What was seen.
    public var message: String

    /// Creates a failure.
    public init(invariant: String, step: Int?, message: String) {
        self.invariant = invariant
        self.step = step
        self.message = message
    }

    public var description: String {
        "\(invariant) (\(step.map { "after step \($0)" } ?? "at the end")): \(message)"
    }
}
