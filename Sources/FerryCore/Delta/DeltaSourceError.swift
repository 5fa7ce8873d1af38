/// A failed call to a ``DeltaSource``, classified by what ``DeltaSync`` does about it.
public struct DeltaSourceError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. An open set.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code's name.
        public var rawValue: String

        /// Creates a code from its name.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The source no longer knows the token (Aurinko's `410`; CalDAV's `403` or `409`
        /// with `DAV:valid-sync-token`): the sync starts over as a full sync.
        public static let tokenInvalid = Code(rawValue: "token_invalid")
        /// `429`, or `503`: wait (``DeltaSourceError/retryAfter`` when the source said how
        /// long) and ask again.
        public static let rateLimited = Code(rawValue: "rate_limited")
        /// `401` or `403`: the credentials are wrong or do not grant this stream.
        public static let unauthorized = Code(rawValue: "unauthorized")
        /// The source could not be reached, or failed (`5xx`, a timeout, a dropped connection).
        public static let unavailable = Code(rawValue: "unavailable")
        /// The source answered something this client cannot use: a `4xx` it did not expect,
        /// or a body it cannot read.
        public static let badResponse = Code(rawValue: "bad_response")

        public var description: String { rawValue }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What happened, for people.
    public var message: String
    /// How long the source asked to wait (`Retry-After`), if it said.
    public var retryAfter: Duration?
    /// The HTTP status, where there was one.
    public var status: Int?
    /// The underlying error, if any.
    public var cause: (any Error)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, status: Int? = nil, retryAfter: Duration? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.retryAfter = retryAfter
        self.cause = cause
    }

    public var description: String { message }
}
