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
    /// The clock that measures long-poll waits.
    public var clock: any Clock<Duration>

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
        clock: any Clock<Duration> = ContinuousClock()
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
        self.clock = clock
    }
}
