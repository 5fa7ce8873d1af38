import FerryLog
import Testing

@testable import FerryServer

@Suite struct ServerMetricsTests {
    private func text(_ metrics: ServerMetrics) -> String { String(decoding: metrics.render(), as: UTF8.self) }

    @Test func onlyTheLargestLogsGetGaugesOfTheirOwnAndSpacesThatFallBackLoseThem() {
        let metrics = ServerMetrics(labelledSpaces: 2)
        let sizes = (1...5).map { SpaceLogSize(space: "s\($0)", headSeq: Int64($0 * 10), floorSeq: 0, snapshotSeq: 0) }
        metrics.recordLogSizes(sizes, complete: true)
        var rendered = text(metrics)
        #expect(metrics.labelledSpaceCount == 2)
        #expect(rendered.contains(#"ferry_log_mutations{space="s5"} 50"#))
        #expect(rendered.contains(#"ferry_log_mutations{space="s4"} 40"#))
        #expect(!rendered.contains(#"space="s3""#))
        #expect(rendered.contains("ferry_spaces 5"))
        #expect(rendered.contains("ferry_log_mutations_all_spaces 150"))

        // Between sweeps: the labelled spaces move, the others get no label.
        metrics.recordLogSizes([SpaceLogSize(space: "s1", headSeq: 900, floorSeq: 0, snapshotSeq: 0)], complete: false)
        metrics.recordLogSizes([SpaceLogSize(space: "s5", headSeq: 55, floorSeq: 5, snapshotSeq: 50)], complete: false)
        rendered = text(metrics)
        #expect(!rendered.contains(#"space="s1""#))
        #expect(rendered.contains(#"ferry_log_mutations{space="s5"} 50"#))
        #expect(rendered.contains(#"ferry_log_floor_seq{space="s5"} 5"#))
        #expect(rendered.contains(#"ferry_snapshot_seq{space="s5"} 50"#))

        // The next sweep relabels: s1 is now among the largest, s4 falls back and is unregistered.
        var next = sizes
        next[0] = SpaceLogSize(space: "s1", headSeq: 900, floorSeq: 0, snapshotSeq: 0)
        next[4] = SpaceLogSize(space: "s5", headSeq: 55, floorSeq: 5, snapshotSeq: 50)
        metrics.recordLogSizes(next, complete: true)
        rendered = text(metrics)
        #expect(rendered.contains(#"ferry_log_mutations{space="s1"} 900"#))
        #expect(rendered.contains(#"ferry_log_mutations{space="s5"} 50"#))
        #expect(!rendered.contains(#"space="s4""#))
        #expect(metrics.labelledSpaceCount == 2)
    }

    @Test func aSpaceThatIsGoneLosesItsGauges() {
        let metrics = ServerMetrics()
        metrics.recordLogSizes([SpaceLogSize(space: "a", headSeq: 3, floorSeq: 0, snapshotSeq: 0)], complete: true)
        #expect(text(metrics).contains(#"ferry_log_mutations{space="a"} 3"#))
        metrics.recordLogSizes([], complete: true)
        #expect(!text(metrics).contains(#"space="a""#))
        #expect(text(metrics).contains("ferry_spaces 0"))
    }
}
