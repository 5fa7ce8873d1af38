/// How a ``CalDAVSource`` or ``CardDAVSource`` pages and bounds its requests, with
/// documented defaults.
public struct DAVSourceConfiguration: Sendable {
    /// The most records (or deleted hrefs) in one page handed to the caller. A single
    /// `sync-collection` answer may hold tens of thousands of members; the source hands them
    /// out in pages of this size, so that each page is written in a bounded transaction.
    /// Default: 500. Values below 1 count as 1.
    public var pageSize: Int

    /// The most members fetched by one multiget report, for members whose data the
    /// `sync-collection` answer left out. Default: 100. Values below 1 count as 1.
    public var multigetBatchSize: Int

    /// How long one request may take until its answer's head arrives. Default: 2 minutes,
    /// since a server computes a large collection's first report whole before it answers
    /// (Radicale 3.9 takes about a minute for 10,000 events whose cache it has not built yet).
    public var requestTimeout: Duration

    /// The largest answer body read; a longer one fails the call as
    /// ``FerryCore/DeltaSourceError/Code/unavailable``. Default: 256 MiB.
    public var maxResponseBytes: Int

    /// Creates a configuration; every argument has the default documented on its property.
    public init(
        pageSize: Int = 500,
        multigetBatchSize: Int = 100,
        requestTimeout: Duration = .seconds(120),
        maxResponseBytes: Int = 256 << 20
    ) {
        self.pageSize = pageSize
        self.multigetBatchSize = multigetBatchSize
        self.requestTimeout = requestTimeout
        self.maxResponseBytes = maxResponseBytes
    }
}
