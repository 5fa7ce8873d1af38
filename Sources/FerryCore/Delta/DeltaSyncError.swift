/// Why a ``DeltaSync`` run failed. The stored tokens did not move; the next run repeats
/// the work and ends correct.
public struct DeltaSyncError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. An open set.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code's name.
        public var rawValue: String

        /// Creates a code from its name.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The source refused the credentials (`401`/`403`): retrying will not help until
        /// they change.
        public static let unauthorized = Code(rawValue: "unauthorized")
        /// The source still answered `ready: false` after the configured number of starts.
        public static let notReady = Code(rawValue: "not_ready")
        /// The source kept answering `429`/`503`, or asked to wait longer than configured.
        public static let rateLimited = Code(rawValue: "rate_limited")
        /// The source rejected the tokens of a full sync it had just handed out.
        public static let tokenInvalid = Code(rawValue: "token_invalid")
        /// Any other failure of the source: unreachable, a server error, an unreadable answer.
        public static let sourceFailed = Code(rawValue: "source_failed")
        /// The sink (the local database) failed to read or write.
        public static let sinkFailed = Code(rawValue: "sink_failed")

        public var description: String { rawValue }
    }

    /// What kind of failure this is.
    public var code: Code
    /// The stream that failed.
    public var stream: String
    /// What happened, for people.
    public var message: String
    /// How long to wait before the next run, when the source said.
    public var retryAfter: Duration?
    /// The underlying error.
    public var cause: (any Error)?

    /// Creates an error.
    public init(_ code: Code, stream: String, _ message: String, retryAfter: Duration? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.stream = stream
        self.message = message
        self.retryAfter = retryAfter
        self.cause = cause
    }

    /// The message, led by the stream's name unless the message already names it (the
    /// sources' messages do).
    public var description: String { message.contains(stream) ? message : "\(stream): \(message)" }
}
