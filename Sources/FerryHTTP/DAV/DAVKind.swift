/// What a DAV collection holds, and so which property carries its members' data and which
/// report fetches members by href.
enum DAVKind: Sendable, Hashable {
    /// A CalDAV calendar (RFC 4791): `calendar-data`, `calendar-multiget`.
    case calendar
    /// A CardDAV address book (RFC 6352): `address-data`, `addressbook-multiget`.
    case addressBook

    /// The namespace of the data property and the multiget report.
    var namespace: String {
        switch self {
        case .calendar: "urn:ietf:params:xml:ns:caldav"
        case .addressBook: "urn:ietf:params:xml:ns:carddav"
        }
    }

    /// The local name of the property that carries a member's text.
    var dataElement: String {
        switch self {
        case .calendar: "calendar-data"
        case .addressBook: "address-data"
        }
    }

    /// The local name of the report that fetches members by href.
    var multigetElement: String {
        switch self {
        case .calendar: "calendar-multiget"
        case .addressBook: "addressbook-multiget"
        }
    }

    /// The protocol's name, for messages.
    var protocolName: String {
        switch self {
        case .calendar: "CalDAV"
        case .addressBook: "CardDAV"
        }
    }
}
