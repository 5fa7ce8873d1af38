import FerryCore
import NIOHTTP1

/// The `Retry-After` header (RFC 9110 §10.2.3): a delay in seconds, or the HTTP-date after
/// which to ask again.
enum RetryAfter {
    /// The delay the `Retry-After` header of `headers` asks for, or `nil` when it is absent or
    /// unreadable. With `nowMilliseconds` (the wall clock, in milliseconds since 1970), an
    /// HTTP-date is honoured too, as the time left until it (zero when it has passed);
    /// without, only delta-seconds are.
    static func delay(_ headers: HTTPHeaders, nowMilliseconds: Int64? = nil) -> Duration? {
        guard let value = headers.first(name: "Retry-After") else { return nil }
        return delay(value, nowMilliseconds: nowMilliseconds)
    }

    /// The delay a `Retry-After` value asks for, read as for a header.
    static func delay(_ value: String, nowMilliseconds: Int64? = nil) -> Duration? {
        let text = value.trimmingASCIIWhitespace()
        guard !text.isEmpty else { return nil }
        if text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            // Digits only, so a failed conversion means too large for Int64.
            return .seconds(Int64(text) ?? Int64.max)
        }
        guard let nowMilliseconds, let date = httpDateMilliseconds(String(text)) else { return nil }
        return .milliseconds(max(0, date - nowMilliseconds))
    }

    /// The instant an HTTP-date names, in milliseconds since 1970-01-01T00:00:00Z, in any of
    /// the three forms a recipient must accept (RFC 9110 §5.6.7): `Sun, 06 Nov 1994 08:49:37
    /// GMT`, `Sunday, 06-Nov-94 08:49:37 GMT`, `Sun Nov  6 08:49:37 1994`; `nil` for
    /// anything else.
    static func httpDateMilliseconds(_ text: String) -> Int64? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        let day: String
        let month: String
        var year: String
        let time: String
        if fields.count == 6, fields[0].hasSuffix(","), fields[5] == "GMT" {
            // IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
            (day, month, year, time) = (fields[1], fields[2], fields[3], fields[4])
        } else if fields.count == 4, fields[0].hasSuffix(","), fields[3] == "GMT" {
            // The obsolete RFC 850 form: `Sunday, 06-Nov-94 08:49:37 GMT`.
            let parts = fields[1].split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3 else { return nil }
            (day, month, year, time) = (parts[0], parts[1], parts[2], fields[2])
            guard year.count == 2, let short = Int(year) else { return nil }
            // A two-digit year: the most recent with these digits that is not too far ahead;
            // 70 splits the century as the Unix epoch does.
            year = String(short < 70 ? 2000 + short : 1900 + short)
        } else if fields.count == 5 {
            // asctime: `Sun Nov  6 08:49:37 1994`.
            (month, day, time, year) = (fields[1], fields[2], fields[3], fields[4])
        } else {
            return nil
        }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let monthIndex = months.firstIndex(of: month), year.count == 4, (1...2).contains(day.count), time.count == 8,
            day.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        let paddedDay = day.count == 1 ? "0" + day : day
        let paddedMonth = monthIndex < 9 ? "0\(monthIndex + 1)" : "\(monthIndex + 1)"
        return RFC3339.millisecondsSince1970("\(year)-\(paddedMonth)-\(paddedDay)T\(time)Z")
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    fileprivate func trimmingASCIIWhitespace() -> Substring {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}
