/// RFC 3339 timestamps, as the protocol writes them, without Foundation's date formatters
/// (they run once per pulled mutation).
package enum RFC3339 {
    /// Formats milliseconds since 1970-01-01T00:00:00Z as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    package static func format(millisecondsSince1970 millis: Int64) -> String {
        let (days, msOfDay) = floorDivide(millis, 86_400_000)
        let (year, month, day) = civil(fromDays: days)
        let seconds = msOfDay / 1000
        var out: [UInt8] = []
        out.reserveCapacity(24)
        appendDigits(year, count: 4, into: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(month, count: 2, into: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(day, count: 2, into: &out)
        out.append(UInt8(ascii: "T"))
        appendDigits(seconds / 3600, count: 2, into: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(seconds / 60 % 60, count: 2, into: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(seconds % 60, count: 2, into: &out)
        out.append(UInt8(ascii: "."))
        appendDigits(msOfDay % 1000, count: 3, into: &out)
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `text` is an RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS`, an optional fraction,
    /// and `Z` or a `±HH:MM` offset, with fields in range.
    package static func isValid(_ text: String) -> Bool {
        millisecondsSince1970(text) != nil
    }

    /// The instant an RFC 3339 date-time names, in milliseconds since 1970-01-01T00:00:00Z
    /// (a fraction beyond milliseconds is cut off); `nil` when `text` is not one (see
    /// ``isValid(_:)``).
    package static func millisecondsSince1970(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count >= 20 else { return nil }
        func num(_ at: Int, _ count: Int) -> Int64? {
            var value: Int64 = 0
            for i in at..<(at + count) {
                guard i < b.count, b[i] >= 48, b[i] <= 57 else { return nil }
                value = value * 10 + Int64(b[i] - 48)
            }
            return value
        }
        guard let year = num(0, 4), b[4] == UInt8(ascii: "-"), let month = num(5, 2), (1...12).contains(month),
            b[7] == UInt8(ascii: "-"), let day = num(8, 2), (1...31).contains(day),
            b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") || b[10] == UInt8(ascii: " "),
            let hour = num(11, 2), hour < 24, b[13] == UInt8(ascii: ":"), let minute = num(14, 2), minute < 60,
            b[16] == UInt8(ascii: ":"), let second = num(17, 2), second <= 60
        else { return nil }
        var i = 19
        var milliseconds: Int64 = 0
        if b[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if i - start < 3 { milliseconds = milliseconds * 10 + Int64(b[i] - 48) }
                i += 1
            }
            guard i > start, i < b.count else { return nil }
            for _ in min(i - start, 3)..<3 { milliseconds *= 10 }
        }
        var offsetMinutes: Int64 = 0
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            guard i + 1 == b.count else { return nil }
        } else {
            guard b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), i + 6 == b.count,
                let offsetHour = num(i + 1, 2), offsetHour < 24, b[i + 3] == UInt8(ascii: ":"),
                let offsetMinute = num(i + 4, 2), offsetMinute < 60
            else { return nil }
            offsetMinutes = (offsetHour * 60 + offsetMinute) * (b[i] == UInt8(ascii: "-") ? -1 : 1)
        }
        let seconds = days(fromCivil: year, month, day) * 86_400 + hour * 3600 + (minute - offsetMinutes) * 60 + second
        return seconds * 1000 + milliseconds
    }

    /// Howard Hinnant's days-from-civil algorithm, the inverse of ``civil(fromDays:)``.
    private static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        let q = a / b
        let r = a % b
        return r < 0 ? (q - 1, r + b) : (q, r)
    }

    /// Howard Hinnant's days-to-civil algorithm.
    private static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func appendDigits(_ value: Int64, count: Int, into out: inout [UInt8]) {
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: count)
        var rest = value
        for index in stride(from: count - 1, through: 0, by: -1) {
            digits[index] = UInt8(48 + rest % 10)
            rest /= 10
        }
        out.append(contentsOf: digits)
    }
}
