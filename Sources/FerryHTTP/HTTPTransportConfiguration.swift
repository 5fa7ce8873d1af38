import AsyncHTTPClient
import FerryCore
import Foundation
import Logging

/// How an ``HTTPTransport`` reaches its server and authenticates, with documented defaults.
public struct HTTPTransportConfiguration: Sendable {
    /// The server's root, scheme, host and port, such as `http://127.0.0.1:8080`. Request
    /// paths (`/sync/...`, `/auth/refresh`) are appended to it; trailing slashes are ignored.
    public var baseURL: String

    /// The bearer token sent on every `/sync/...` request until a refresh replaces it.
    public var accessToken: String

    /// The token spent on `POST /auth/refresh` when the server answers `401`. `nil` (the
    /// default): a `401` is ``FerryCore/SyncTransportError/Kind/authRequired`` at once.
    public var refreshToken: String?

    /// How long one request may take until its answer's head arrives, and the longest pause
    /// while its body arrives (a server that stalls mid-answer fails the call as transient
    /// after this long; a long body that keeps coming is never cut). Default: 30 seconds.
    /// A long-poll pull gets its `wait` plus this margin for the head.
    public var requestTimeout: Duration

    /// The largest answer body read; a longer one fails the call as transient.
    /// Default: 256 MiB (a full pull page of large payloads fits).
    public var maxResponseBytes: Int

    /// Called once per successful token refresh, with the new pair; the requests that waited
    /// for that refresh are retried after it returns, and calls are never concurrent. Refresh
    /// tokens rotate: the app must store the pair's `refreshToken`, since the one it replaces
    /// no longer works. It must not wait for a call of the same transport, which may be
    /// waiting for this refresh. Default: does nothing.
    public var onTokensRefreshed: @Sendable (TokenPair) async -> Void

    /// The HTTP client to send requests with. `nil` (the default): the transport creates its
    /// own on the shared event loop group, follows no redirects, and shuts it down in
    /// ``HTTPTransport/shutdown()``. A client passed here is never shut down by the transport.
    public var httpClient: HTTPClient?

    /// Where the transport logs requests and refreshes (at `debug`). Default: discards everything.
    public var logger: Logger

    /// When the transport uses the protocol's optional gzip coding: it asks for compressed
    /// answers (`Accept-Encoding: gzip` on pulls, pushes, manifests and snapshot chunks) and
    /// decompresses them, and it compresses push and bulk-push bodies of at least
    /// ``compressionMinimumBytes`` once the server has advertised that it accepts them
    /// (`Accept-Encoding: gzip` on one of its answers). Default: ``Compression/automatic``,
    /// gzip unless the server is on this machine (see docs/benchmarks.md, "Bytes on the wire").
    public var compression: Compression

    /// The smallest push body compressed, in bytes. Default: 1024.
    public var compressionMinimumBytes: Int

    /// Creates a configuration; every argument but the server and the access token has the
    /// default documented on its property.
    public init(
        baseURL: String,
        accessToken: String,
        refreshToken: String? = nil,
        requestTimeout: Duration = .seconds(30),
        maxResponseBytes: Int = 256 << 20,
        httpClient: HTTPClient? = nil,
        logger: Logger = Logger(label: "ferry.http", factory: { _ in SwiftLogNoOpLogHandler() }),
        compression: Compression = .automatic,
        compressionMinimumBytes: Int = 1024,
        onTokensRefreshed: @escaping @Sendable (TokenPair) async -> Void = { _ in }
    ) {
        self.baseURL = baseURL
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.requestTimeout = requestTimeout
        self.maxResponseBytes = maxResponseBytes
        self.httpClient = httpClient
        self.logger = logger
        self.onTokensRefreshed = onTokensRefreshed
        self.compression = compression
        self.compressionMinimumBytes = compressionMinimumBytes
    }
}

extension HTTPTransportConfiguration {
    /// When an ``HTTPTransport`` uses the protocol's optional gzip coding.
    ///
    /// gzip makes Ferry's JSON bodies 4 to 15 times smaller and costs CPU on both sides (zlib's
    /// fastest level, about 2 µs per mutation on this project's machine). Over a network that
    /// is a good trade; between two processes of one machine the bytes cost nothing, and the
    /// CPU cost a fifth to two fifths of push and pull throughput in the benchmarks, so the
    /// default leaves loopback servers alone. `true` and `false` literals mean ``always`` and
    /// ``never``.
    public enum Compression: Sendable, Hashable, ExpressibleByBooleanLiteral {
        /// gzip, unless the server's host is a loopback one (`localhost`, `127.0.0.0/8`,
        /// `::1`). The default.
        case automatic
        /// gzip, whatever the host.
        case always
        /// Never: every body goes as is, as to a server that knows no coding.
        case never

        /// `true` is ``always``, `false` is ``never``.
        public init(booleanLiteral value: Bool) {
            self = value ? .always : .never
        }

        /// Whether a transport to `baseURL` uses gzip.
        public func isEnabled(forBaseURL baseURL: String) -> Bool {
            switch self {
            case .always: true
            case .never: false
            case .automatic: !Self.isLoopback(baseURL)
            }
        }

        /// Whether `baseURL`'s host is this machine's loopback interface.
        static func isLoopback(_ baseURL: String) -> Bool {
            guard var host = URLComponents(string: baseURL)?.host?.lowercased() else { return false }
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            if host == "localhost" || host.hasSuffix(".localhost") || host == "::1" { return true }
            let parts = host.split(separator: ".", omittingEmptySubsequences: false)
            return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
        }
    }
}
