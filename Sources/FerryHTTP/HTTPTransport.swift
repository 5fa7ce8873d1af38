import AsyncHTTPClient
import FerryCore
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// The ``FerryCore/SyncTransport`` that speaks the Ferry protocol over HTTP with
/// AsyncHTTPClient.
///
/// Every `/sync/...` request carries `Authorization: Bearer <access token>`. When the
/// server answers `401` and a refresh token is configured, the transport spends it on
/// `POST /auth/refresh`, stores the rotated pair, hands it to
/// ``HTTPTransportConfiguration/onTokensRefreshed`` and retries the request once. However
/// many requests are refused at the same time, one refresh is in flight at a time and they
/// all share it; a request refused with a token that a refresh has already replaced retries
/// with the current token without refreshing again.
///
/// Every failure is thrown as a ``FerryCore/SyncTransportError``:
/// - the server's error answers are classified by their status and protocol error code,
///   with `Retry-After` kept on `429` and `503`;
/// - a `401` that no refresh cures is `authRequired`;
/// - network failures and timeouts are `transient`, carrying the client's error;
/// - a success answer whose body is not the expected JSON is `transient` too.
///
/// With ``HTTPTransportConfiguration/compression`` (the default), answers are asked for
/// gzip-compressed and decompressed here, and push bodies are sent compressed once the server
/// has advertised that it accepts them (see ``HTTPTransportConfiguration/compression``).
///
/// A cancelled call throws `CancellationError`. Call ``shutdown()`` when done with the
/// transport.
public final class HTTPTransport: SyncTransport {
    let session: HTTPSession
    let requestTimeout: Duration

    /// Creates a transport for the server and tokens of `configuration`. Sends nothing.
    public init(configuration: HTTPTransportConfiguration) {
        self.session = HTTPSession(configuration: configuration)
        self.requestTimeout = configuration.requestTimeout
    }

    /// Sends `request` with `POST /sync/mutations/push` and answers the server's outcome for
    /// each of its mutations.
    ///
    /// - Throws: ``FerryCore/SyncTransportError`` (`permanent` when the request cannot be
    ///   written as JSON: a payload holds a non-finite number), `CancellationError`.
    public func push(_ request: PushRequest) async throws -> PushResponse {
        var writer = JSONWriter(capacity: 256 + request.mutations.count * 256)
        request.writeJSON(to: &writer)
        guard !writer.wroteNonFiniteNumber else {
            throw SyncTransportError(.permanent, "push: a payload holds a number JSON cannot express (infinity or NaN)")
        }
        let body = ByteBuffer(bytes: writer.bytes)
        let answer = try await session.authorizedUpload(.POST, "/sync/mutations/push", body: body, timeout: requestTimeout, route: "push")
        return try Self.read(PushResponse.self, from: answer, route: "push")
    }

    /// Reads one page of `space` with `GET /sync/mutations/pull`.
    ///
    /// Query values are percent-encoded, so `excludeDevice` may hold any printable ASCII.
    /// `wait` is sent in seconds to the millisecond (a negative one as `0`); the request may
    /// then take `wait` plus ``HTTPTransportConfiguration/requestTimeout``.
    ///
    /// - Throws: ``FerryCore/SyncTransportError`` (`cursorAhead` when `since` is above the
    ///   space's head), `CancellationError`.
    public func pull(
        space: String,
        since: Int64,
        limit: Int?,
        excludeDevice: String?,
        wait: Duration?
    ) async throws -> PullResponse {
        let target = Self.pullTarget(space: space, since: since, limit: limit, excludeDevice: excludeDevice, wait: wait)
        var timeout = requestTimeout
        if let wait, wait > .zero { timeout += wait }
        let answer = try await session.authorized(.GET, target, body: nil, timeout: timeout, route: "pull")
        return try Self.read(PullResponse.self, from: answer, route: "pull")
    }

    /// Waits for a token refresh in flight to end, then shuts down the HTTP client if the
    /// transport created it; a client given in the configuration is left running. Call it
    /// once, after the last call has returned; the transport sends nothing afterwards.
    public func shutdown() async throws {
        try await session.shutdown()
    }

    /// Spends `refreshToken` with `POST /auth/refresh` and answers the new pair.
    ///
    /// - Throws: ``FerryCore/SyncTransportError``: `authRequired` when the server refuses the
    ///   token (`400`, `401` or `403`), otherwise as any other request.
    static func spend(refreshToken: String, exchange: HTTPExchange, timeout: Duration) async throws -> TokenPair {
        let body = ByteBuffer(data: try JSONEncoder().encode(RefreshRequest(refreshToken: refreshToken)))
        let answer = try await exchange.send(.POST, "/auth/refresh", bearer: nil, body: body, timeout: timeout)
        switch answer.status {
        case 200..<300:
            return try decode(TokenPair.self, from: answer, route: "refresh")
        case 400, 401, 403:
            let refusal = error(status: answer.status, headers: answer.headers, body: answer.body, route: "refresh")
            throw SyncTransportError(
                .authRequired,
                "the server refused the refresh token: \(refusal.message)",
                status: answer.status,
                code: refusal.code
            )
        default:
            throw error(status: answer.status, headers: answer.headers, body: answer.body, route: "refresh")
        }
    }
}
