import FerryClient
import FerryCore
import FerryTestKit
import Testing

/// The deterministic simulation (FerryTestKit's `Simulation`): seeds run clean, a run
/// replays exactly, the checker finds a broken promise and shrinks it, and every bug the
/// simulation found stays fixed (docs/testing.md lists them).
@Suite(.serialized) struct SimulationTests {
    /// A few seeds, in debug: `scripts/simulate` runs hundreds in CI, in release.
    @Test func aBatchOfSeedsRunsCleanAndMeetsEveryFault() async {
        let simulation = Simulation(configuration: Simulation.Configuration(steps: 100))
        var totals = Simulation.Statistics()
        for seed in UInt64(1)...10 {
            let outcome = await simulation.run(seed: seed)
            #expect(outcome.failure == nil, "seed \(seed): \(outcome.failure.map { "\($0)" } ?? "") in \(outcome.steps)")
            totals.add(outcome.statistics)
        }
        // The seeds reach what the simulation is for.
        #expect(totals.logSize > 100)
        #expect(totals.conflicts > 0)
        #expect(totals.deadLetters > 0)
        #expect(totals.crashes > 0)
        #expect(totals.faults > 20)
        #expect(totals.logResets > 0)
        #expect(totals.bootstraps > 0)
        #expect(totals.consumerRuns > 0)
    }

    @Test func theSameSeedReplaysTheSameRun() async {
        let simulation = Simulation(configuration: Simulation.Configuration(steps: 80))
        let first = await simulation.run(seed: 7)
        let second = await simulation.run(seed: 7)
        #expect(first.steps == second.steps)
        #expect(first.trace == second.trace)
        #expect(first.statistics == second.statistics)
        #expect(first.trace.count == first.steps.count + 1)
        #expect(await simulation.run(seed: 8).trace != first.trace)
    }

    @Test func stepsPrintAsSwiftThatMakesThemAgain() {
        let step = SimulationStep.write(
            device: 1,
            table: "notes",
            key: "k\"1",
            kind: .update,
            values: [.string("a\nb"), .null, .int(-3)],
            fields: 5
        )
        #expect(
            step.description
                == #".write(device: 1, table: "notes", key: "k\"1", kind: .update, values: [.string("a\nb"), .null, .int(-3)], fields: 5)"#
        )
        let sync = SimulationStep.sync(
            device: 0,
            pushFault: .duplicate(secondAnswer: true),
            pushFaultAt: 1,
            pullFaultSeed: 9,
            crashAtApply: nil
        )
        #expect(
            sync.description
                == ".sync(device: 0, pushFault: .duplicate(secondAnswer: true), pushFaultAt: 1, pullFaultSeed: 9, crashAtApply: nil)"
        )
    }

    /// A schema with a constraint across two columns: each device's own writes keep it, but
    /// two concurrent patches merge into a row that breaks it, which every device must then
    /// keep in its dead letters. The simulation finds that, and shrinks it to a few steps
    /// that fail the same way when run again.
    @Test func aBrokenPromiseIsFoundAndShrunk() async {
        var schema = SimulationSchema.standard
        schema.tables[0].createSQL =
            "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT, body TEXT, rank INTEGER, data BLOB, CHECK (title IS NOT NULL OR body IS NOT NULL))"
        schema.poison = nil
        let simulation = Simulation(configuration: Simulation.Configuration(steps: 80, schema: schema, shrinkBudget: 80))
        var found: Simulation.Outcome?
        for seed in UInt64(1)...40 {
            let outcome = await simulation.run(seed: seed)
            if outcome.failure != nil {
                found = outcome
                break
            }
        }
        guard let found, let failure = found.failure else {
            Issue.record("no seed of 40 found the merged row the table refuses")
            return
        }
        #expect(failure.invariant == "dead letter of a valid row")
        #expect(found.steps.count <= 12, "shrunk to \(found.steps.count) steps: \(found.steps)")
        let again = await simulation.run(found.steps)
        #expect(again.failure?.invariant == failure.invariant)
    }

    // MARK: Bugs the simulation found

    /// A poison row in the shadow made the next `register(table:)` (every app launch) fail
    /// with the table's CHECK error: one bad row from another client locked the app out.
    @Test func aPoisonRowDoesNotStopTheStoreFromOpeningAgain() async {
        let outcome = await Simulation().run([
            .poison,
            .sync(device: 1, pushFault: nil, pushFaultAt: 0, pullFaultSeed: nil, crashAtApply: nil),
            .reopen(device: 1),
        ])
        #expect(outcome.failure == nil, "\(outcome.failure.map { "\($0)" } ?? "")")
        #expect(outcome.statistics.deadLetters == 3)
    }

    /// Three devices that all let the remote win (`tags`) wrote the same new record: each one
    /// restored the others' values over its own, and their restores set each other off
    /// forever. A settlement the server has taken now stands.
    @Test func devicesThatAllLetTheRemoteWinSettleOnce() async {
        let outcome = await Simulation().run([
            .write(device: 0, table: "tags", key: "k1", kind: .insert, values: [.string("blue"), .int(0)], fields: 1),
            .write(device: 2, table: "tags", key: "k1", kind: .insert, values: [.string("blue"), .int(12)], fields: 3),
            .write(device: 1, table: "tags", key: "k1", kind: .insert, values: [.string("green"), .int(3)], fields: 1),
        ])
        #expect(outcome.failure == nil, "\(outcome.failure.map { "\($0)" } ?? "")")
    }

    /// A device below the pruned floor bootstrapped by first deleting its rows and setting
    /// its cursor to 0: a chunk download that failed left the app empty and the cursor moved
    /// back. It now bootstraps in place and sweeps at the end.
    @Test func aBootstrapAfterThePruneKeepsTheRowsAndTheCursorUntilItEnds() async {
        let outcome = await Simulation().run([
            .write(device: 1, table: "notes", key: "k2", kind: .insert, values: [.null, .string("x"), .int(0), .null], fields: 3),
            .sync(device: 1, pushFault: nil, pushFaultAt: 0, pullFaultSeed: nil, crashAtApply: nil),
            .write(device: 0, table: "tags", key: "k4", kind: .insert, values: [.string("green"), .null], fields: 2),
            .sync(device: 0, pushFault: nil, pushFaultAt: 0, pullFaultSeed: nil, crashAtApply: nil),
            .snapshot(prune: true),
            .sync(device: 1, pushFault: nil, pushFaultAt: 0, pullFaultSeed: 11_526_999_931_467_717_129, crashAtApply: nil),
        ])
        #expect(outcome.failure == nil, "\(outcome.failure.map { "\($0)" } ?? "")")
    }

    /// A push whose answer was lost lost its conflict report with it: sent again, it was
    /// only a `duplicate`. The server now reports the conflict with the duplicate while the
    /// record's head still shows it.
    @Test func aPushSentAgainAfterALostAnswerIsToldItsConflict() async {
        let outcome = await Simulation().run([
            .write(device: 1, table: "tags", key: "k4", kind: .insert, values: [.string("red"), .int(0)], fields: 1),
            .write(device: 0, table: "tags", key: "k4", kind: .insert, values: [.string("red"), .int(3)], fields: 2),
            .sync(device: 0, pushFault: nil, pushFaultAt: 0, pullFaultSeed: nil, crashAtApply: nil),
            .sync(device: 1, pushFault: .loseAnswer, pushFaultAt: 0, pullFaultSeed: nil, crashAtApply: nil),
            .snapshot(prune: true),
        ])
        #expect(outcome.failure == nil, "\(outcome.failure.map { "\($0)" } ?? "")")
        #expect(outcome.statistics.unlearnableConflicts == 0)
        #expect(outcome.statistics.conflicts > 0)
    }

    /// A mutation whose first answer was lost was answered `duplicate` after the device had
    /// pulled past its seq: the entry stayed in the outbox, and the row showed it replayed
    /// over the later remote change, unlike every other device.
    @Test func aLateDuplicateAnswerDoesNotLeaveAStaleRow() async {
        let outcome = await Simulation().run([
            .write(
                device: 0,
                table: "notes",
                key: "k5",
                kind: .insert,
                values: [.null, .string("line\nbreak"), .int(1), SimulationSchema.bytes([0, 1, 2])],
                fields: 4
            ),
            .sync(device: 0, pushFault: .loseAnswer, pushFaultAt: 0, pullFaultSeed: nil, crashAtApply: 1),
            .snapshot(prune: true),
            .write(
                device: 1,
                table: "notes",
                key: "k5",
                kind: .insert,
                values: [.string(""), .string("line\nbreak"), .null, .null],
                fields: 4
            ),
            .sync(device: 1, pushFault: nil, pushFaultAt: 0, pullFaultSeed: nil, crashAtApply: nil),
        ])
        #expect(outcome.failure == nil, "\(outcome.failure.map { "\($0)" } ?? "")")
    }

    /// The stream of an empty log ends with `SyncComplete|0`, which the consumer refused as
    /// an invalid ack (acks are 1 at least): a consumer could not start on a new space.
    @Test func aConsumerOfAnEmptyLogCompletes() async {
        let outcome = await Simulation().run([.consume(faultSeed: nil)])
        #expect(outcome.failure == nil, "\(outcome.failure.map { "\($0)" } ?? "")")
    }

    /// A device that pushed but never pulled did not know the log's id: when the log was
    /// replaced before its first pull, its acknowledged write stayed acknowledged for the old
    /// log, never reached the new one, and showed on that device alone.
    @Test func aWriteAcknowledgedBeforeTheFirstPullSurvivesALogReplacedMeanwhile() async {
        let outcome = await Simulation().run([
            .write(device: 2, table: "tags", key: "k1", kind: .insert, values: [.string("blue"), .int(3)], fields: 2),
            .sync(device: 2, pushFault: .delayRequest, pushFaultAt: 1, pullFaultSeed: 18_342_859_686_219_426_197, crashAtApply: nil),
            .resetLog,
        ])
        #expect(outcome.failure == nil, "\(outcome.failure.map { "\($0)" } ?? "")")
        #expect(outcome.statistics.logSize == 1)
    }

    /// A device inserted a row, pushed it, and never pulled its echo (its pulls failed);
    /// another device deleted the row; the first device then bootstrapped from a snapshot
    /// taken after the delete. Ending the bootstrap dropped the acknowledged insert (the
    /// snapshot covers it) before it rebuilt the rows with local changes, so the row, which
    /// the snapshot no longer had, stayed on that device alone (seed 115).
    @Test func aRowDeletedElsewhereBeforeTheSnapshotLeavesTheDeviceThatInsertedIt() async {
        let outcome = await Simulation().run([
            .poison,
            .write(device: 2, table: "notes", key: "k2", kind: .insert, values: [.string(""), .null, .int(-7), .null], fields: 15),
            .sync(device: 2, pushFault: nil, pushFaultAt: 0, pullFaultSeed: 10_598_265_624_147_053_908, crashAtApply: nil),
            .sync(device: 1, pushFault: nil, pushFaultAt: 0, pullFaultSeed: nil, crashAtApply: nil),
            .write(device: 0, table: "tags", key: "k4", kind: .insert, values: [.string("red"), .int(0)], fields: 1),
            .write(
                device: 1,
                table: "notes",
                key: "k2",
                kind: .delete,
                values: [.string(""), .string("y"), .int(1 << 40), .null],
                fields: 9
            ),
            .write(
                device: 0,
                table: "notes",
                key: "k1",
                kind: .insert,
                values: [.string("Ünïcode ✓"), .string("x"), .int(0), .null],
                fields: 11
            ),
            .sync(device: 1, pushFault: nil, pushFaultAt: 0, pullFaultSeed: nil, crashAtApply: nil),
            .write(device: 0, table: "notes", key: "k3", kind: .insert, values: [.null, .string("x"), .int(0), .null], fields: 3),
            .sync(device: 0, pushFault: nil, pushFaultAt: 0, pullFaultSeed: nil, crashAtApply: nil),
            .snapshot(prune: false),
        ])
        #expect(outcome.failure == nil, "\(outcome.failure.map { "\($0)" } ?? "")")
        #expect(outcome.statistics.bootstraps >= 1)
    }
}
