import AsyncHTTPClient
import FerryCore
import NIOCore
import NIOHTTP1

/// One cheap authenticated request to a Ferry server, for a doctor: a pull of at most one
/// mutation of a space from seq 0, with what came back.
public struct ServerProbe: Sendable, Hashable {
    /// The answer's HTTP status; `nil` when no answer came.
    public var status: Int?
    /// The `error.code` of an error answer's body.
    public var errorCode: String?
    /// The answer's `Date` header.
    public var dateHeader: String?
    /// Why no answer came, when none did.
    public var failure: String?
    /// The local wall clock halfway through the request, in milliseconds since 1970.
    public var localMilliseconds: Int64

    /// Creates a probe's result.
    public init(status: Int?, errorCode: String? = nil, dateHeader: String? = nil, failure: String? = nil, localMilliseconds: Int64) {
        self.status = status
        self.errorCode = errorCode
        self.dateHeader = dateHeader
        self.failure = failure
        self.localMilliseconds = localMilliseconds
    }

    /// Asks `baseURL` for one mutation of `space` with `accessToken`
    /// (`GET /sync/mutations/pull?space=…&since_seq=0&limit=1`). Never throws: a failure
    /// to connect is a result too.
    /// - Parameters:
    ///   - clock: The wall clock read before and after the request.
    ///   - timeout: How long to wait for the answer. Default 10 seconds.
    public static func pull(
        baseURL: String,
        accessToken: String,
        space: String,
        client: HTTPClient = .shared,
        clock: WallClock = .system,
        timeout: Duration = .seconds(10)
    ) async -> ServerProbe {
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        let encoded = HTTPTransport.percentEncode(space)
        var request = HTTPClientRequest(url: "\(base)/sync/mutations/pull?space=\(encoded)&since_seq=0&limit=1")
        request.headers.add(name: "Authorization", value: "Bearer \(accessToken)")
        let started = clock.nowMilliseconds()
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(timeout.components.seconds * 1000)))
            let body = try await response.body.collect(upTo: 1 << 20)
            let ended = clock.nowMilliseconds()
            var code: String?
            if response.status.code >= 400, let object = try? JSONValue(parsing: Array(body.readableBytesView)).objectValue,
                case .string(let text)? = object["error"]?.objectValue?["code"]
            {
                code = text
            }
            return ServerProbe(
                status: Int(response.status.code),
                errorCode: code,
                dateHeader: response.headers.first(name: "Date"),
                localMilliseconds: (started + ended) / 2
            )
        } catch {
            return ServerProbe(status: nil, failure: "\(error)", localMilliseconds: clock.nowMilliseconds())
        }
    }
}
