import AsyncHTTPClient
import FerryCore
import Logging
import NIOCore
import NIOHTTP1

/// What ``HTTPTransport`` and ``HTTPEventStream`` share: the HTTP client, the tokens and
/// their refresh, and the rule for `/sync` requests (send with the current access token; on
/// `401`, refresh once and retry; classify any other failure).
struct HTTPSession: Sendable {
    let exchange: HTTPExchange
    let refresher: TokenRefresher
    let requestTimeout: Duration
    let ownsClient: Bool
    let logger: Logger

    /// Creates a session for `configuration`; when it names no client, creates one that
    /// follows no redirects, with `readTimeout` as its idle read timeout.
    init(configuration: HTTPTransportConfiguration, readTimeout: Duration? = nil) {
        let client: HTTPClient
        if let given = configuration.httpClient {
            client = given
            ownsClient = false
        } else {
            var clientConfiguration = HTTPClient.Configuration()
            // A bearer token is never carried to wherever a redirect points.
            clientConfiguration.redirectConfiguration = .disallow
            if let readTimeout { clientConfiguration.timeout.read = HTTPExchange.timeAmount(readTimeout) }
            client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
            ownsClient = true
        }
        let exchange = HTTPExchange(
            client: client,
            baseURL: configuration.baseURL,
            maxResponseBytes: configuration.maxResponseBytes,
            logger: configuration.logger,
            bodyIdleTimeout: configuration.requestTimeout,
            coding: HTTPContentCoding(
                enabled: configuration.compression.isEnabled(forBaseURL: configuration.baseURL),
                minimumBytes: configuration.compressionMinimumBytes
            )
        )
        let timeout = configuration.requestTimeout
        self.exchange = exchange
        self.requestTimeout = timeout
        self.logger = configuration.logger
        self.refresher = TokenRefresher(
            accessToken: configuration.accessToken,
            refreshToken: configuration.refreshToken,
            logger: configuration.logger,
            spend: { refreshToken in try await HTTPTransport.spend(refreshToken: refreshToken, exchange: exchange, timeout: timeout) },
            onRefreshed: configuration.onTokensRefreshed
        )
    }

    /// Sends a `/sync` request and reads its answer whole (asking for it gzip-compressed when
    /// the transport's coding is on); see
    /// ``authorizedResponse(_:_:body:timeout:route:accept:contentType:headers:)``.
    func authorized(
        _ method: HTTPMethod,
        _ target: String,
        body: ByteBuffer?,
        timeout: Duration,
        route: String,
        accept: String = "application/json",
        contentType: String = "application/json",
        headers: [(name: String, value: String)] = []
    ) async throws -> HTTPExchange.Answer {
        let response = try await authorizedResponse(
            method,
            target,
            body: body,
            timeout: timeout,
            route: route,
            accept: accept,
            contentType: contentType,
            headers: headers
        )
        return try await exchange.read(response, method, target)
    }

    /// Sends a request body as ``authorized(_:_:body:timeout:route:accept:contentType:headers:)``
    /// does, gzip-compressed when the server has advertised gzip
    /// (``HTTPContentCoding/encode(_:)``); when the server refuses the compressed body with
    /// `415` (its compression was turned off since), forgets the advertisement and sends the
    /// body once more as it is.
    func authorizedUpload(
        _ method: HTTPMethod,
        _ target: String,
        body: ByteBuffer,
        timeout: Duration,
        route: String,
        contentType: String = "application/json",
        headers: [(name: String, value: String)] = []
    ) async throws -> HTTPExchange.Answer {
        let encoded = exchange.coding.encode(body)
        do {
            return try await authorized(
                method,
                target,
                body: encoded.body,
                timeout: timeout,
                route: route,
                contentType: contentType,
                headers: headers + encoded.headers
            )
        } catch let error as SyncTransportError where error.status == 415 && !encoded.headers.isEmpty {
            exchange.coding.forget()
            logger.debug("the server refused a compressed body; sending it as is", metadata: ["route": "\(route)"])
            return try await authorized(
                method,
                target,
                body: body,
                timeout: timeout,
                route: route,
                contentType: contentType,
                headers: headers
            )
        }
    }

    /// Sends a `/sync` request with the current access token; on `401`, renews the token
    /// (see ``TokenRefresher``) and sends it once more. Answers the first answer that is a
    /// success, its body not read yet; throws the classified error of any other. When the
    /// transport uses gzip it asks for it (`Accept-Encoding: gzip`), so the body must be read
    /// through ``HTTPExchange/read(_:_:_:)`` or ``DecodedBody``, which decode it.
    func authorizedResponse(
        _ method: HTTPMethod,
        _ target: String,
        body: ByteBuffer?,
        timeout: Duration,
        route: String,
        accept: String = "application/json",
        contentType: String = "application/json",
        headers: [(name: String, value: String)] = []
    ) async throws -> HTTPClientResponse {
        let headers = exchange.coding.enabled ? headers + [(name: "Accept-Encoding", value: "gzip")] : headers
        let credentials = await refresher.current()
        var response = try await exchange.start(
            method,
            target,
            bearer: credentials.accessToken,
            body: body,
            timeout: timeout,
            accept: accept,
            contentType: contentType,
            headers: headers
        )
        if response.status.code == 401 {
            let answer = try await exchange.read(response, method, target)
            let refusal = HTTPTransport.error(status: answer.status, headers: answer.headers, body: answer.body, route: route)
            let renewed = try await refresher.renew(after: credentials, refusal: refusal)
            logger.debug("retrying with a renewed access token", metadata: ["route": "\(route)"])
            response = try await exchange.start(
                method,
                target,
                bearer: renewed.accessToken,
                body: body,
                timeout: timeout,
                accept: accept,
                contentType: contentType,
                headers: headers
            )
            if response.status.code == 401 {
                let answer = try await exchange.read(response, method, target)
                let again = HTTPTransport.error(status: answer.status, headers: answer.headers, body: answer.body, route: route)
                throw SyncTransportError(
                    .authRequired,
                    "\(route): the server refused the renewed access token too: \(again.message)",
                    status: 401,
                    code: again.code
                )
            }
        }
        guard (200..<300).contains(response.status.code) else {
            let answer = try await exchange.read(response, method, target)
            throw HTTPTransport.error(status: answer.status, headers: answer.headers, body: answer.body, route: route)
        }
        return response
    }

    /// Waits for a refresh in flight, then shuts the client down if the session created it.
    func shutdown() async throws {
        await refresher.waitUntilIdle()
        if ownsClient {
            try await exchange.client.shutdown()
        }
    }
}
