/// The limits and timings of the HTTP API, with the protocol's defaults.
public struct ServerConfiguration: Sendable {
    /// The largest request body accepted, in bytes; larger ones get `413`. Default 8 MiB.
    public var maxBodyBytes: Int
    /// The most mutations in one push; more get `400`. Default 1000.
    public var maxMutationsPerPush: Int
    /// The largest payload of one mutation, encoded, in bytes; a push holding a larger one
    /// gets `413`. Default 1 MiB.
    public var maxPayloadBytes: Int
    /// The page size of a pull without `limit`. Default 500.
    public var defaultPullLimit: Int
    /// The largest page of a pull; a larger `limit` is treated as this. Default 5000.
    public var maxPullLimit: Int
    /// The longest long-poll `wait`, in seconds; a larger one gets `400`. Default 60.
    public var maxWaitSeconds: Int
    /// The most acks in one `POST /sync/ack`; more get `400`. Default 1000.
    public var maxAcksPerRequest: Int
    /// How many mutations an event stream reads from the store at a time: the unit of its
    /// memory and of the work done after a consumer has gone. Default 1000.
    public var streamPageSize: Int
    /// The largest body of a bulk push (`POST /sync/push`); larger ones get `413`. Default 64 MiB.
    public var bulkMaxBytes: Int
    /// The most lines in one bulk push; more get `413`. Default 100,000.
    public var bulkMaxLines: Int
    /// The most long-polls (pulls with `wait` > 0) held at once for the tokens of one grant;
    /// a further one is answered at once: its page when it has mutations, else `429
    /// rate_limited` with `Retry-After`. Default 16.
    public var maxLongPollsPerToken: Int
    /// The most long-polls held at once on this server, whatever their token; further ones
    /// are answered as above. Default 4096.
    public var maxLongPolls: Int
    /// The `Retry-After` of a long-poll refused by the two limits above. Default 5 seconds.
    public var longPollRetryAfter: Duration
    /// How long a connection may stay without a complete request head, or with a request
    /// body that has stopped arriving, or idle between requests, before the server closes
    /// it. A held long-poll or a response being written is not idle. Default 75 seconds: longer
    /// than the 60 seconds for which HTTP clients commonly keep an idle connection (AsyncHTTPClient's
    /// default), so that the client, not the server, closes it, and no request is sent on a
    /// connection the server is closing.
    public var idleTimeout: Duration
    /// The most bytes of a request's line and header fields together (and of any one of
    /// them); a larger head is answered `400 bad_request` and the connection closed.
    /// Default 16 KiB.
    public var maxHeaderBytes: Int
    /// The longest query string, in bytes; a longer one is answered `400 bad_request`.
    /// Default 8 KiB.
    public var maxQueryBytes: Int
    /// Whether `/sync` answers (pull pages, event streams, snapshot chunks) are gzip-compressed
    /// for the clients that send `Accept-Encoding: gzip`, and gzip-compressed request bodies
    /// (pushes, bulk pushes) are accepted and advertised (`Accept-Encoding: gzip` on every
    /// `/sync` answer). Off: every body is sent as is, and a compressed request body gets
    /// `415`. Default on (see docs/benchmarks.md, "Bytes on the wire").
    public var compression: Bool
    /// The smallest answer body that is compressed, in bytes: gzip saves nothing on a few
    /// hundred bytes. Default 1024.
    public var compressionMinimumBytes: Int
    /// The clock that measures long-poll waits and the live channel's token re-checks.
    public var clock: any Clock<Duration>
    /// How often a live channel (`GET /sync/mutations/live`) checks its access token again;
    /// one found expired or revoked closes the channel (code 4401). Default 30 seconds.
    public var liveTokenRecheck: Duration
    /// How often the server pings a live channel; a peer that does not answer a ping before
    /// the next one is closed. Default 30 seconds.
    public var livePingInterval: Duration

    /// Creates a configuration with the documented defaults.
    public init(
        maxBodyBytes: Int = 8 << 20,
        maxMutationsPerPush: Int = 1000,
        maxPayloadBytes: Int = 1 << 20,
        defaultPullLimit: Int = 500,
        maxPullLimit: Int = 5000,
        maxWaitSeconds: Int = 60,
        maxAcksPerRequest: Int = 1000,
        streamPageSize: Int = 1000,
        bulkMaxBytes: Int = 64 << 20,
        bulkMaxLines: Int = 100_000,
        maxLongPollsPerToken: Int = 16,
        maxLongPolls: Int = 4096,
        longPollRetryAfter: Duration = .seconds(5),
        idleTimeout: Duration = .seconds(75),
        maxHeaderBytes: Int = 16 << 10,
        maxQueryBytes: Int = 8 << 10,
        compression: Bool = true,
        compressionMinimumBytes: Int = 1024,
        clock: any Clock<Duration> = ContinuousClock(),
        liveTokenRecheck: Duration = .seconds(30),
        livePingInterval: Duration = .seconds(30)
    ) {
        self.maxBodyBytes = maxBodyBytes
        self.maxMutationsPerPush = maxMutationsPerPush
        self.maxPayloadBytes = maxPayloadBytes
        self.defaultPullLimit = defaultPullLimit
        self.maxPullLimit = maxPullLimit
        self.maxWaitSeconds = maxWaitSeconds
        self.maxAcksPerRequest = maxAcksPerRequest
        self.streamPageSize = max(1, streamPageSize)
        self.bulkMaxBytes = bulkMaxBytes
        self.bulkMaxLines = bulkMaxLines
        self.maxLongPollsPerToken = maxLongPollsPerToken
        self.maxLongPolls = maxLongPolls
        self.longPollRetryAfter = longPollRetryAfter
        self.idleTimeout = idleTimeout
        self.maxHeaderBytes = maxHeaderBytes
        self.maxQueryBytes = maxQueryBytes
        self.compression = compression
        self.compressionMinimumBytes = max(0, compressionMinimumBytes)
        self.clock = clock
        self.liveTokenRecheck = liveTokenRecheck
        self.livePingInterval = livePingInterval
    }
}
