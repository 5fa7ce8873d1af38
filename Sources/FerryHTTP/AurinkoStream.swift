import FerryCore
import Foundation

/// Which of an Aurinko account's data an ``AurinkoSource`` syncs: its email, its contacts, or
/// the events of one calendar, with the filters Aurinko applies when a sync starts.
///
/// The filters (`daysWithin`, `timeMin`, `timeMax`) are sent only on `POST …/sync`, the start
/// of a full sync: the tokens that start hands out stand for the filtered sync, and the
/// incremental syncs that resume from them send no filters.
public struct AurinkoStream: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case email(daysWithin: Int?)
        case contacts
        case calendar(id: String, timeMin: Date?, timeMax: Date?)
    }

    let kind: Kind

    /// The account's email messages, in every folder (`/email/sync`). `daysWithin`, when
    /// given (a positive number of days), limits the first scan to the messages received in
    /// the last `daysWithin` days.
    public static func email(daysWithin: Int? = nil) -> AurinkoStream {
        AurinkoStream(kind: .email(daysWithin: daysWithin))
    }

    /// The account's contacts (`/contacts/sync`), deletions included.
    public static let contacts = AurinkoStream(kind: .contacts)

    /// The events of the calendar `id` (`/calendars/{id}/sync`); `primary` names the
    /// account's primary calendar. Any id may be given: it is percent-encoded into the path.
    /// `timeMin` and `timeMax`, when given, bound the events synced; they are sent as
    /// RFC 3339 UTC timestamps to the millisecond (`2024-01-01T00:00:00.000Z`).
    public static func calendar(id: String, timeMin: Date? = nil, timeMax: Date? = nil) -> AurinkoStream {
        AurinkoStream(kind: .calendar(id: id, timeMin: timeMin, timeMax: timeMax))
    }

    /// The name the stream's records and tokens are kept under: `email`, `contacts`, or
    /// `calendar:ID` with the calendar's id as given (not encoded). The filters are not part
    /// of it.
    public var name: String {
        switch kind {
        case .email: "email"
        case .contacts: "contacts"
        case .calendar(let id, _, _): "calendar:\(id)"
        }
    }

    /// The path of the stream's resource below the API root: `/email`, `/contacts`,
    /// `/calendars/{id}` with the id percent-encoded.
    var path: String {
        switch kind {
        case .email: "/email"
        case .contacts: "/contacts"
        case .calendar(let id, _, _): "/calendars/\(HTTPTransport.percentEncode(id))"
        }
    }

    /// The query of `POST {path}/sync`, with its leading `?`, or empty.
    var startQuery: String {
        var parameters: [String] = []
        switch kind {
        case .email(let daysWithin):
            if let daysWithin { parameters.append("daysWithin=\(daysWithin)") }
        case .contacts:
            break
        case .calendar(_, let timeMin, let timeMax):
            if let timeMin { parameters.append("timeMin=\(HTTPTransport.percentEncode(Self.timestamp(timeMin)))") }
            if let timeMax { parameters.append("timeMax=\(HTTPTransport.percentEncode(Self.timestamp(timeMax)))") }
        }
        return parameters.isEmpty ? "" : "?" + parameters.joined(separator: "&")
    }

    /// `date` as an RFC 3339 UTC timestamp to the millisecond (rounded down).
    static func timestamp(_ date: Date) -> String {
        RFC3339.format(millisecondsSince1970: Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
    }
}
