/// A record a delta source reported as new or changed.
public struct DeltaRecord: Sendable, Hashable {
    /// The record's identity in its stream: a DAV member's href, an API record's id.
    public var id: String
    /// The record's version tag, where the source has one (a DAV `getetag`).
    public var etag: String?
    /// The record as the source gave it: iCalendar or vCard text, or the record's JSON.
    public var data: String

    /// Creates a record.
    public init(id: String, etag: String?, data: String) {
        self.id = id
        self.etag = etag
        self.data = data
    }
}
