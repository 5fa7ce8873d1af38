import FerryCore
import Synchronization
import Testing

/// A clock the test moves by hand, and the text a reporter wrote.
private final class Harness: Sendable {
    let time = Mutex(Duration.zero)
    let written = Mutex<[String]>([])

    func advance(_ duration: Duration) { time.withLock { $0 += duration } }
    var text: String { written.withLock { $0.joined() } }
    var writes: [String] { written.withLock { $0 } }

    func reporter(_ style: ProgressReporter.Style, total: Int64? = nil, doneAtStart: Int64 = 0) -> ProgressReporter {
        ProgressReporter(
            label: "pull notes",
            unit: "mutations",
            total: total,
            doneAtStart: doneAtStart,
            style: style,
            now: { self.time.withLock { $0 } },
            write: { text in self.written.withLock { $0.append(text) } }
        )
    }
}

@Suite struct ProgressEstimateTests {
    @Test func rateAndTimeLeftFollowFromDoneTotalAndElapsed() {
        let estimate = ProgressEstimate.estimate(done: 2500, total: 10_000, elapsed: .seconds(5))
        #expect(estimate.rate == 500)
        #expect(estimate.remaining == .seconds(15))
        #expect(estimate.fraction == 0.25)
    }

    @Test func unitsDoneBeforeTheStartAreLeftOutOfTheRate() {
        let estimate = ProgressEstimate.estimate(done: 6000, total: 10_000, doneAtStart: 5000, elapsed: .seconds(2))
        #expect(estimate.rate == 500)
        #expect(estimate.remaining == .seconds(8))
    }

    @Test func noRateWithoutTimeOrWork() {
        #expect(ProgressEstimate.estimate(done: 0, total: 10, elapsed: .seconds(3)).rate == nil)
        #expect(ProgressEstimate.estimate(done: 5, total: 10, elapsed: .zero).rate == nil)
        #expect(ProgressEstimate.estimate(done: 5, total: 10, elapsed: .zero).remaining == nil)
    }

    @Test func anUnknownTotalHasNoFractionNorTimeLeft() {
        let estimate = ProgressEstimate.estimate(done: 40, total: nil, elapsed: .seconds(4))
        #expect(estimate.rate == 10)
        #expect(estimate.fraction == nil)
        #expect(estimate.remaining == nil)
    }

    @Test func doneAtOrPastTheTotalLeavesNothing() {
        let estimate = ProgressEstimate.estimate(done: 12, total: 10, elapsed: .seconds(1))
        #expect(estimate.total == 12)
        #expect(estimate.fraction == 1)
        #expect(estimate.remaining == .zero)
        #expect(ProgressEstimate.estimate(done: 0, total: 0, elapsed: .zero).fraction == 1)
    }

    @Test(arguments: [
        (Duration.zero, "0s"), (.milliseconds(1), "1s"), (.seconds(45), "45s"), (.seconds(60), "1m00s"),
        (.seconds(185), "3m05s"), (.seconds(3600), "1h00m"), (.seconds(7620), "2h07m"), (.milliseconds(7_619_001), "2h07m"),
    ])
    func durationsReadForPeople(duration: Duration, text: String) {
        #expect(ProgressReporter.format(duration) == text)
    }

    @Test func ratesHaveADecimalOnlyWhenSmall() {
        #expect(ProgressReporter.formatRate(1749.6) == "1750")
        #expect(ProgressReporter.formatRate(2.46) == "2.5")
        #expect(ProgressReporter.formatRate(0.04) == "0.0")
    }

    @Test func aLineWithABarAndOneWithout() {
        let estimate = ProgressEstimate.estimate(done: 3500, total: 10_000, elapsed: .seconds(2))
        #expect(
            ProgressReporter.line(label: "pull notes", unit: "mutations", estimate: estimate, bar: true, finished: false)
                == "pull notes: [#######.............] 35% 3500/10000 mutations, 1750/s, 4s left"
        )
        #expect(
            ProgressReporter.line(label: "pull notes", unit: "mutations", estimate: estimate, bar: false, finished: false)
                == "pull notes: 35% 3500/10000 mutations, 1750/s, 4s left"
        )
        let done = ProgressEstimate.estimate(done: 10_000, total: 10_000, elapsed: .seconds(5))
        #expect(
            ProgressReporter.line(label: "pull notes", unit: "mutations", estimate: done, bar: false, finished: true)
                == "pull notes: 100% 10000/10000 mutations, 2000/s, done"
        )
        let open = ProgressEstimate.estimate(done: 7, total: nil, elapsed: .zero)
        #expect(ProgressReporter.line(label: "stream", unit: "events", estimate: open, bar: true, finished: false) == "stream: 7 events")
    }
}

@Suite struct ProgressReporterTests {
    @Test func aTerminalRewritesOneLineAtMostEveryTenthOfASecond() {
        let harness = Harness()
        let reporter = harness.reporter(.terminal, total: 100)
        harness.advance(.seconds(1))
        reporter.update(done: 10)
        harness.advance(.milliseconds(50))
        reporter.update(done: 20)  // too soon: not drawn
        harness.advance(.milliseconds(60))
        reporter.update(done: 30)
        reporter.finish(done: 100)
        reporter.update(done: 100)  // after the end: nothing
        let writes = harness.writes
        #expect(writes.count == 3)
        #expect(writes.allSatisfy { $0.hasPrefix("\r\u{1B}[2K") })
        #expect(writes[0] == "\r\u{1B}[2Kpull notes: [##..................] 10% 10/100 mutations, 10/s, 9s left")
        #expect(writes[1].contains("30% 30/100"))
        #expect(writes[2].hasSuffix(", done\n"))
        #expect(!writes[0].contains("\n") && !writes[1].contains("\n"))
    }

    @Test func plainLinesComeEveryFewSecondsWithoutCarriageReturns() {
        let harness = Harness()
        let reporter = harness.reporter(.plain, total: 1000)
        for step in 1...10 {
            harness.advance(.milliseconds(500))
            reporter.update(done: Int64(step * 100))
        }
        // At 0.5 s, then at 2.5 s and 4.5 s: not one line per update.
        let lines = harness.text.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0] == "pull notes: 10% 100/1000 mutations, 200/s, 5s left")
        #expect(lines[1] == "pull notes: 50% 500/1000 mutations, 200/s, 3s left")
        reporter.finish()
        #expect(harness.text.split(separator: "\n").last == "pull notes: 100% 1000/1000 mutations, 200/s, done")
        #expect(!harness.text.contains("\r"))
    }

    @Test func aNoteHasALineOfItsOwnAndClosesAnOpenTerminalLine() {
        let harness = Harness()
        let terminal = harness.reporter(.terminal)
        terminal.update(done: 3)
        terminal.note("downloading 4 chunks")
        #expect(harness.writes.last == "\r\u{1B}[2Kpull notes: downloading 4 chunks\n")

        let plain = Harness()
        let reporter = plain.reporter(.plain)
        reporter.note("phase two")
        #expect(plain.text == "pull notes: phase two\n")
    }

    @Test func silentShowsNothingButStillEstimates() {
        let harness = Harness()
        let reporter = harness.reporter(.silent, total: 10)
        harness.advance(.seconds(2))
        reporter.update(done: 4)
        reporter.note("x")
        reporter.show("y")
        reporter.finish()
        #expect(harness.writes.isEmpty)
        #expect(reporter.estimate.done == 4)
    }

    @Test func showReplacesATerminalLineAndClearEndsIt() {
        let harness = Harness()
        let reporter = harness.reporter(.terminal)
        reporter.show("[bench 0:01] pushing")
        reporter.clear()
        reporter.clear()
        #expect(harness.writes == ["\r\u{1B}[2K[bench 0:01] pushing", "\r\u{1B}[2K"])
        let plain = Harness()
        plain.reporter(.plain).show("[bench 0:01] pushing")
        #expect(plain.text == "[bench 0:01] pushing\n")
    }

    @Test func aResumedTaskMeasuresItsRateFromWhereItResumed() {
        let harness = Harness()
        let reporter = harness.reporter(.plain, total: 200, doneAtStart: 100)
        harness.advance(.seconds(10))
        reporter.update(done: 150)
        #expect(harness.text == "pull notes: 75% 150/200 mutations, 5.0/s, 10s left\n")
        #expect(reporter.estimate.rate == 5)
        #expect(reporter.elapsed == .seconds(10))
    }
}
