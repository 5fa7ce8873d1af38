import FerryCore

extension LogPage {
    /// The pull answer for this page, as JSON text: the stored payloads are copied in as
    /// they are, and mutations committed in the same millisecond share one formatted time.
    package func pullResponseJSON() -> [UInt8] {
        var writer = JSONWriter(capacity: 256 + mutations.count * 320)
        var lastMilliseconds = Int64.min
        var lastTime: [UInt8] = []
        PullResponse.writeJSON(
            to: &writer,
            hasMore: hasMore,
            latestSeq: latestSeq,
            headSeq: headSeq,
            logID: logID,
            floorSeq: floorSeq
        ) { writer in
            writer.byte(UInt8(ascii: "["))
            for (index, mutation) in mutations.enumerated() {
                if index > 0 { writer.byte(UInt8(ascii: ",")) }
                if mutation.occurredAtMilliseconds != lastMilliseconds {
                    lastMilliseconds = mutation.occurredAtMilliseconds
                    lastTime = Array(RFC3339.format(millisecondsSince1970: lastMilliseconds).utf8)
                }
                mutation.writeJSON(to: &writer, occurredAt: lastTime) { $0.raw($1) }
            }
            writer.byte(UInt8(ascii: "]"))
        }
        return writer.bytes
    }
}
