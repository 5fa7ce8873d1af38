import FerryCore
import Foundation

extension Diagnosis {
    /// What a tool saw when it asked a server one cheap authenticated question (a pull of
    /// one mutation of the space), for ``serverChecks(_:space:skewLimit:)``. The tool does
    /// the request; this library only reads the answer, so that it needs no HTTP client.
    public struct ServerObservation: Sendable, Hashable {
        /// The server's URL.
        public var server: String
        /// Why no answer came (connection refused, timeout), when none did.
        public var failure: String?
        /// The answer's HTTP status.
        public var status: Int?
        /// The `error.code` of an error answer's body.
        public var errorCode: String?
        /// The answer's `Date` header (RFC 9110's IMF-fixdate, `Tue, 01 Dec 2026 18:00:00 GMT`).
        public var dateHeader: String?
        /// The local wall clock halfway through the request, in milliseconds since 1970.
        public var localMilliseconds: Int64

        /// Creates an observation.
        public init(
            server: String,
            failure: String? = nil,
            status: Int? = nil,
            errorCode: String? = nil,
            dateHeader: String? = nil,
            localMilliseconds: Int64
        ) {
            self.server = server
            self.failure = failure
            self.status = status
            self.errorCode = errorCode
            self.dateHeader = dateHeader
            self.localMilliseconds = localMilliseconds
        }
    }

    /// The checks of a server from what a request to it saw: reachable, the token valid
    /// and scoped to `space` (`401` and `403` fail), and the clock skew between the
    /// server's `Date` header and the local clock (a warning above `skewLimit`: the header
    /// has whole seconds, so a skew below 2 seconds is not seen).
    public static func serverChecks(
        _ observation: ServerObservation,
        space: String,
        skewLimit: Duration = .seconds(5)
    ) -> [DiagnosisCheck] {
        let server = observation.server
        guard let status = observation.status else {
            return [
                DiagnosisCheck(
                    name: "server",
                    status: .fail,
                    detail: "\(server) does not answer: \(observation.failure ?? "no answer")",
                    fix: "start the server (ferry serve) or correct --server; check the URL's host and port"
                )
            ]
        }
        var checks = [DiagnosisCheck(name: "server", status: .ok, detail: "\(server) answers")]
        switch status {
        case 401:
            checks.append(
                DiagnosisCheck(
                    name: "token",
                    status: .fail,
                    detail: "refused (401 \(observation.errorCode ?? "unauthorized")): unknown, malformed or expired",
                    fix: "issue a new one: ferry token create --data DIR --space \(space)"
                )
            )
        case 403:
            checks.append(
                DiagnosisCheck(
                    name: "token",
                    status: .fail,
                    detail: "valid, but its scope does not hold the space \(space) (403)",
                    fix: "issue a token for the space: ferry token create --data DIR --space \(space)"
                )
            )
        case 200, 409, 410:
            // A cursor ahead or a pruned history are answers of an authorized request.
            checks.append(DiagnosisCheck(name: "token", status: .ok, detail: "valid for the space \(space)"))
        case 404:
            checks.append(
                DiagnosisCheck(
                    name: "token",
                    status: .fail,
                    detail: "the server has no pull route (404): is \(server) a Ferry server?",
                    fix: "point --server at the Ferry server's base URL"
                )
            )
        default:
            checks.append(
                DiagnosisCheck(
                    name: "token",
                    status: .warn,
                    detail: "not checked: the server answered \(status) \(observation.errorCode ?? "")",
                    fix: "look at the server's log, then run the doctor again"
                )
            )
        }
        checks.append(skewCheck(observation, limit: skewLimit))
        return checks
    }

    private static func skewCheck(_ observation: ServerObservation, limit: Duration) -> DiagnosisCheck {
        guard let header = observation.dateHeader, let server = httpDateMilliseconds(header) else {
            return DiagnosisCheck(
                name: "clock skew",
                status: .warn,
                detail: "not measured: the server's answer has no readable Date header",
                fix: "none needed for syncing; compare the clocks by hand if timestamps look wrong"
            )
        }
        // The header has whole seconds, cut down: the server's time was half a second later
        // on average.
        let skew = Duration.milliseconds(observation.localMilliseconds - (server + 500))
        let absolute = skew < .zero ? .zero - skew : skew
        let seconds = Double(skew.components.seconds) + Double(skew.components.attoseconds) / 1e18
        let direction = skew < .zero ? "behind" : "ahead of"
        let detail = "the local clock is \(String(format: "%.1f", abs(seconds))) s \(direction) the server's"
        guard absolute > limit else { return DiagnosisCheck(name: "clock skew", status: .ok, detail: detail) }
        return DiagnosisCheck(
            name: "clock skew",
            status: .warn,
            detail: detail + " (more than \(limit.components.seconds) s: client timestamps and lease times mislead)",
            fix: "synchronize the clocks with NTP (timedatectl set-ntp true)"
        )
    }

    /// Milliseconds since 1970 of an HTTP date (`Tue, 01 Dec 2026 18:00:00 GMT`), `nil`
    /// when it does not read.
    public static func httpDateMilliseconds(_ text: String) -> Int64? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: text) else { return nil }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }
}
