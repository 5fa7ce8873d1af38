import AsyncHTTPClient
import FerryCore
import Logging

/// The ``FerryCore/DeltaSource`` of one CalDAV calendar collection: RFC 6578
/// `sync-collection` reports, whose sync token is the delta token.
///
/// - The stream is the collection's URL exactly as given; every request goes to it, with
///   `Cache-Control: no-cache`, and with HTTP Basic credentials when a username is given.
///   `DAV:limit` is never sent (some servers truncate silently under it); a server's own
///   truncation (`507` for the collection, RFC 6578 §3.6) is followed with further reports
///   from the token it handed out, within the same drain.
/// - A record's id is the member's href as the server wrote it; its etag the `getetag`
///   value, quotes included; its data the `calendar-data` text as the server gave it, with
///   the CR LF line ends restored that XML parsing turns into LF (every LF not preceded by
///   CR becomes CR LF), so that it equals what a `GET` of the member answers, byte for byte.
/// - Members whose data the report leaves out are fetched by `calendar-multiget`, in
///   batches of ``DAVSourceConfiguration/multigetBatchSize``; a member that is gone by then
///   counts as deleted.
/// - Members the report answers with `404` (or `410`) are deletions: the updated drain
///   collects them and the deleted drain from the same delta token hands them out.
/// - Failures are ``FerryCore/DeltaSourceError``s: a token the server no longer knows
///   (`403`/`409` naming `DAV:valid-sync-token`) is `tokenInvalid`; `401` and other `403`s
///   are `unauthorized`; `429` and `503` are `rateLimited`, with `Retry-After`; other `5xx`,
///   timeouts and dropped connections are `unavailable`; anything else, and XML that cannot
///   be read, is `badResponse`.
///
/// Copies of a source share its drains. The source serves one sync at a time.
public struct CalDAVSource: DeltaSource {
    let collection: DAVSyncCollection

    /// Creates a source for the calendar collection at `collectionURL`. Sends nothing.
    ///
    /// - Parameters:
    ///   - collectionURL: The collection's URL, such as
    ///     `https://dav.example.com/calendars/alice/home/`; used as given, as the URL of every
    ///     request and as ``stream``.
    ///   - username: The user for HTTP Basic authentication; `nil` sends no credentials.
    ///   - password: The password that goes with `username`.
    ///   - httpClient: The client requests go through; never shut down by the source. Its
    ///     redirect policy applies.
    ///   - configuration: Page sizes and limits.
    ///   - logger: Where requests (at `debug`) and members the server would not describe
    ///     (at `warning`) are logged. Default: discards everything.
    public init(
        collectionURL: String,
        username: String? = nil,
        password: String? = nil,
        httpClient: HTTPClient = .shared,
        configuration: DAVSourceConfiguration = .init(),
        logger: Logger = Logger(label: "ferry.caldav", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        collection = DAVSyncCollection(
            kind: .calendar,
            collectionURL: collectionURL,
            username: username,
            password: password,
            httpClient: httpClient,
            configuration: configuration,
            logger: logger
        )
    }

    /// The collection's URL, exactly as given.
    public var stream: String { collection.collectionURL }

    /// Answers the empty sync token (an initial sync, RFC 6578 §3.8), ready at once. Sends
    /// nothing.
    public func start() async throws -> DeltaStart {
        collection.start()
    }

    /// One page of the events created or changed since the position's token, of at most
    /// ``DAVSourceConfiguration/pageSize`` records.
    ///
    /// From a delta token, runs the `sync-collection` report and keeps its answer; later
    /// pages are handed out from it, with `calendar-multiget` for the members it left out.
    /// The last page's `nextDeltaToken` is the report's new sync token. A page token this
    /// source no longer holds the drain of makes it run that page's report again and hand
    /// its members out from the start (writing a record twice is harmless).
    ///
    /// - Throws: ``FerryCore/DeltaSourceError``, `CancellationError`.
    public func updated(_ position: DeltaPosition) async throws -> DeltaPage<DeltaRecord> {
        try await collection.updated(position)
    }

    /// One page of the hrefs of the events deleted since the position's token.
    ///
    /// After the updated drain from the same delta token has handed out its last page, these
    /// are the deletions it collected (a member deleted and created again within the drain
    /// is not among them), and `nextDeltaToken` is the token that drain ended with. Called
    /// without such a drain, the source runs `sync-collection` reports of its own from the
    /// token (without data) and hands out the deletions they report, ending with their token.
    ///
    /// - Throws: ``FerryCore/DeltaSourceError``, `CancellationError`.
    public func deleted(_ position: DeltaPosition) async throws -> DeltaPage<String> {
        try await collection.deleted(position)
    }
}
