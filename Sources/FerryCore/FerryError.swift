/// An error of the Ferry protocol: an open code, a message for people, and the cause.
///
/// The code decides the HTTP status a server answers with (``Code/httpStatus``); the
/// message goes into the error body. Codes are an open set so that later versions can add
/// some without breaking `switch` statements of users.
public struct FerryError: Error, Sendable, CustomStringConvertible {
    /// A protocol error code, as it appears in the `error.code` field of an error body.
    public struct Code: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        /// The code's name on the wire.
        public var rawValue: String

        /// Creates a code from its wire name.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// Malformed JSON, a missing or ill-typed field, a value out of range. Status 400.
        public static let badRequest = Code(rawValue: "bad_request")
        /// Missing, malformed, unknown or expired token. Status 401.
        public static let unauthorized = Code(rawValue: "unauthorized")
        /// A valid token used on a space outside its scope. Status 403.
        public static let forbidden = Code(rawValue: "forbidden")
        /// No such route or resource. Status 404.
        public static let notFound = Code(rawValue: "not_found")
        /// A pull's `since_seq` is above the space's head. Status 409.
        public static let cursorAhead = Code(rawValue: "cursor_ahead")
        /// The request conflicts with the server's state. Status 409.
        public static let conflict = Code(rawValue: "conflict")
        /// The pull's cursor is below the space's floor: the history it needs was pruned; the
        /// error body carries `floor_seq`. Status 410.
        public static let historyPruned = Code(rawValue: "history_pruned")
        /// The body, or one payload in it, is larger than the server accepts. Status 413.
        public static let payloadTooLarge = Code(rawValue: "payload_too_large")
        /// The request body's `Content-Encoding` is not one the server accepts. Status 415.
        public static let unsupportedMediaType = Code(rawValue: "unsupported_media_type")
        /// Too many requests; retry after the `Retry-After` seconds. Status 429.
        public static let rateLimited = Code(rawValue: "rate_limited")
        /// The server failed. Status 500.
        public static let `internal` = Code(rawValue: "internal")
        /// The server's storage cannot be reached for now. Status 503.
        public static let unavailable = Code(rawValue: "unavailable")

        /// The HTTP status that carries this code; 500 for a code this version does not know.
        public var httpStatus: Int {
            switch self {
            case .badRequest: 400
            case .unauthorized: 401
            case .forbidden: 403
            case .notFound: 404
            case .cursorAhead, .conflict: 409
            case .historyPruned: 410
            case .payloadTooLarge: 413
            case .unsupportedMediaType: 415
            case .rateLimited: 429
            case .unavailable: 503
            default: 500
            }
        }

        public var description: String { rawValue }
    }

    /// What kind of error this is.
    public var code: Code
    /// A sentence for the person reading the error.
    public var message: String
    /// The error that caused this one, if any. Never sent over the wire.
    public var underlying: (any Error)?
    /// The space's floor, for ``Code/historyPruned``: sent as `floor_seq` beside `error`.
    public var floorSeq: Int64?

    /// Creates an error.
    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// The `410 history_pruned` answer of a read below `floorSeq` in `space`.
    public static func historyPruned(space: String, since: Int64, floorSeq: Int64) -> FerryError {
        var error = FerryError(
            .historyPruned,
            "since_seq \(since) is below the floor of space '\(space)' (\(floorSeq)): its history was pruned; bootstrap from the snapshot"
        )
        error.floorSeq = floorSeq
        return error
    }

    public var description: String {
        if let underlying {
            return "\(code.rawValue): \(message) (\(underlying))"
        }
        return "\(code.rawValue): \(message)"
    }
}

/// The body of every error response: `{"error": {"code": ..., "message": ...}}`.
public struct ErrorResponse: Codable, Sendable, Hashable {
    /// The error's code and message.
    public struct Detail: Codable, Sendable, Hashable {
        /// The protocol error code.
        public var code: FerryError.Code
        /// A sentence for people.
        public var message: String

        /// Creates the detail.
        public init(code: FerryError.Code, message: String) {
            self.code = code
            self.message = message
        }
    }

    /// The error.
    public var error: Detail
    /// The space's floor, beside `error` in a `410 history_pruned` answer.
    public var floorSeq: Int64?

    /// Creates the body of `error`.
    public init(_ error: FerryError) {
        self.error = Detail(code: error.code, message: error.message)
        self.floorSeq = error.floorSeq
    }

    enum CodingKeys: String, CodingKey {
        case error
        case floorSeq = "floor_seq"
    }
}
