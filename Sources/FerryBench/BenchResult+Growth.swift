import FerryCore
import Foundation

extension BenchResult {
    /// The share of the smallest size's rate that the growth workload's larger sizes must keep.
    static let growthTarget = 0.8

    /// One measured point of a growth curve: the size (mutations in the log, or spaces on the
    /// server), the figures of its rounds, and extra figures (resident memory, say).
    struct GrowthPoint {
        var size: Int
        var stats: BenchStats
        var extra: [(String, Double)] = []
    }

    /// The results of one growth curve, one per point in the order given: workload `growth`,
    /// its `phase` (`push` or `pull`), the size under `sizeField` (`log_size` or `spaces`) and
    /// `ratio_to_smallest`, the point's median over the median of the smallest size's point;
    /// each point's target is a ratio of at least ``growthTarget``.
    static func growth(store: String, phase: String, sizeField: String, unit: String, points: [GrowthPoint]) -> [BenchResult] {
        let smallest = points.min { $0.size < $1.size }?.stats.median ?? .nan
        return points.map { point in
            let ratio = smallest > 0 ? point.stats.median / smallest : .nan
            var result = BenchResult(
                workload: "growth",
                store: store,
                clients: 1,
                stats: point.stats,
                unit: unit,
                ceiling: nil,
                target: ("≥ \(growthTarget) × smallest", ratio.isFinite && ratio >= growthTarget)
            )
            result.extra = point.extra
            result.fields = [
                ("phase", .string(phase)),
                (sizeField, .int(Int64(point.size))),
                ("ratio_to_smallest", number(ratio, digits: 3)),
            ]
            return result
        }
    }
}
