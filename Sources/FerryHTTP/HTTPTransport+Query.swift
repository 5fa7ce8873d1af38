import FerryCore

extension HTTPTransport {
    /// The path and query of a pull, every value percent-encoded.
    static func pullTarget(space: String, since: Int64, limit: Int?, excludeDevice: String?, wait: Duration?) -> String {
        var target = "/sync/mutations/pull?space=\(percentEncode(space))&since_seq=\(since)"
        if let limit { target += "&limit=\(limit)" }
        if let excludeDevice { target += "&exclude_device=\(percentEncode(excludeDevice))" }
        if let wait { target += "&wait=\(seconds(wait))" }
        return target
    }

    /// `value` with every byte of its UTF-8 form outside RFC 3986's unreserved characters
    /// (letters, digits, `-`, `.`, `_`, `~`) written as `%XX`; a space becomes `%20`.
    static func percentEncode(_ value: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `duration` in seconds, to the millisecond, without trailing zeros: `0.5`, `2`,
    /// `1.25`. Zero or negative durations give `0`.
    static func seconds(_ duration: Duration) -> String {
        guard duration > .zero else { return "0" }
        let (wholeSeconds, attoseconds) = duration.components
        var seconds = wholeSeconds
        var milliseconds = (attoseconds + 500_000_000_000_000) / 1_000_000_000_000_000
        if milliseconds == 1000 {
            seconds += 1
            milliseconds = 0
        }
        guard milliseconds > 0 else { return "\(seconds)" }
        var fraction = String(milliseconds)
        fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(seconds).\(fraction)"
    }
}
