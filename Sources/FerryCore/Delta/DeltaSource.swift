/// The seam to an outside source that hands out delta tokens: Aurinko's email, calendar and
/// contacts APIs, a CalDAV calendar, a CardDAV address book.
///
/// A sync starts (``start()``) when there are no tokens yet, or when the source no longer
/// knows the stored ones; otherwise it resumes from the stored tokens. It then drains every
/// page of updated records, then every page of deleted ids. Implementations are thin: they
/// make one request per call and classify failures as ``DeltaSourceError``; waiting, retrying
/// and resynchronizing are ``DeltaSync``'s.
///
/// `FerryHTTP` has `AurinkoSource`, `CalDAVSource` and `CardDAVSource`; `FerryTestKit` has an
/// in-memory one.
public protocol DeltaSource: Sendable {
    /// The stream's name, under which its records and tokens are kept: `email`, `contacts`,
    /// `calendar:ID`, or a DAV collection's URL.
    var stream: String { get }

    /// Starts a full sync: answers the first tokens, or `ready: false` while the source
    /// prepares them.
    func start() async throws -> DeltaStart

    /// One page of records created or changed since the position's token.
    func updated(_ position: DeltaPosition) async throws -> DeltaPage<DeltaRecord>

    /// One page of ids deleted since the position's token.
    func deleted(_ position: DeltaPosition) async throws -> DeltaPage<String>
}
