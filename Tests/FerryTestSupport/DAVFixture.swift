/// iCalendar events and vCards for the DAV tests, as a client would write them: CR LF line
/// ends, content lines folded at 75 octets (RFC 5545 §3.1, RFC 6350 §3.2).
public enum DAVFixture {
    /// A calendar object holding one event.
    public static func event(uid: String, summary: String, description: String? = nil) -> String {
        var lines = [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//Ferry//Tests//EN",
            "BEGIN:VEVENT",
            "UID:\(uid)",
            "DTSTAMP:20240101T000000Z",
            "DTSTART:20240102T090000Z",
            "DTEND:20240102T100000Z",
            "SUMMARY:\(summary)",
        ]
        if let description { lines.append("DESCRIPTION:\(description)") }
        lines += ["END:VEVENT", "END:VCALENDAR"]
        return lines.map(fold).joined()
    }

    /// A vCard 3.0.
    public static func vCard(uid: String, name: String, note: String? = nil) -> String {
        var lines = ["BEGIN:VCARD", "VERSION:3.0", "UID:\(uid)", "FN:\(name)", "N:\(name);;;;"]
        if let note { lines.append("NOTE:\(note)") }
        lines.append("END:VCARD")
        return lines.map(fold).joined()
    }

    /// A long text with non-ASCII characters, which folds over several lines.
    public static let longText =
        "Café ☕ 東京: a description long enough to be folded over several content lines, "
        + "with accents (é, ü, ñ), symbols (☕, ✓) and kanji (東京, 日本) on the way, so that "
        + "a fold may fall inside a multi-byte character if a writer is careless."

    /// `line` folded at 75 octets (never inside a UTF-8 sequence), each line ending in CR LF
    /// and each continuation starting with a space.
    public static func fold(_ line: String) -> String {
        var out = ""
        var current = ""
        var octets = 0
        var limit = 75
        for character in line {
            let size = String(character).utf8.count
            if octets + size > limit {
                out += current + "\r\n"
                current = " "
                octets = 1
                limit = 75
            }
            current.append(character)
            octets += size
        }
        return out + current + "\r\n"
    }
}
