import AsyncHTTPClient
import FerryCore
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization

/// One server and the client that reaches it: sends a request and reads its answer whole.
struct HTTPExchange: Sendable {
    /// An answer read whole.
    struct Answer: Sendable {
        /// The HTTP status code.
        var status: Int
        /// The answer's headers.
        var headers: HTTPHeaders
        /// The answer's body.
        var body: ByteBuffer
    }

    /// The client requests go through.
    let client: HTTPClient
    /// The server's root, without a trailing slash.
    let baseURL: String
    /// The largest body read.
    let maxResponseBytes: Int
    /// Where requests are logged.
    let logger: Logger
    /// The longest pause allowed between two parts of a body read whole; `nil`: no limit.
    let bodyIdleTimeout: Duration?
    /// The gzip coding: what the server advertised, whether to ask for it.
    let coding: HTTPContentCoding

    /// Creates an exchange; trailing slashes of `baseURL` are dropped. With
    /// `bodyIdleTimeout`, a body read whole that stops coming for that long fails the call
    /// (the request's own timeout ends when the answer's head arrives).
    init(
        client: HTTPClient,
        baseURL: String,
        maxResponseBytes: Int,
        logger: Logger,
        bodyIdleTimeout: Duration? = nil,
        coding: HTTPContentCoding = HTTPContentCoding(enabled: false, minimumBytes: .max)
    ) {
        var root = Substring(baseURL)
        while root.hasSuffix("/") { root = root.dropLast() }
        self.client = client
        self.baseURL = String(root)
        self.maxResponseBytes = maxResponseBytes
        self.logger = logger
        self.bodyIdleTimeout = bodyIdleTimeout
        self.coding = coding
    }

    /// Sends a request and reads its answer, whatever its status.
    ///
    /// - Parameters:
    ///   - target: The path and query, starting with `/`.
    ///   - bearer: The access token for `Authorization`, if any.
    ///   - body: A JSON body, if any.
    ///   - timeout: How long until the answer's head must have arrived.
    /// - Throws: ``SyncTransportError`` of kind `transient` carrying the underlying error when
    ///   the server could not be reached or the answer not read; `CancellationError` when the
    ///   calling task was cancelled.
    func send(
        _ method: HTTPMethod,
        _ target: String,
        bearer: String?,
        body: ByteBuffer? = nil,
        timeout: Duration
    ) async throws -> Answer {
        let response = try await start(method, target, bearer: bearer, body: body, timeout: timeout)
        return try await read(response, method, target)
    }

    /// Sends a request and answers as soon as the answer's head has arrived: its body is
    /// left to the caller to read (or to drop, which closes the connection).
    ///
    /// `timeout` bounds the wait for the head only (AsyncHTTPClient cancels its deadline
    /// when the head arrives), so a long body is never cut by it. A body is sent as
    /// `contentType`; `headers` are added as given.
    ///
    /// - Throws: as ``send(_:_:bearer:body:timeout:)``.
    func start(
        _ method: HTTPMethod,
        _ target: String,
        bearer: String?,
        body: ByteBuffer? = nil,
        timeout: Duration,
        accept: String = "application/json",
        contentType: String = "application/json",
        headers: [(name: String, value: String)] = []
    ) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: baseURL + target)
        request.method = method
        request.headers.add(name: "Accept", value: accept)
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        for header in headers { request.headers.add(name: header.name, value: header.value) }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(body)
        }
        logger.debug("sending request", metadata: ["method": "\(method.rawValue)", "target": "\(target)"])
        do {
            let response = try await client.execute(request, timeout: Self.timeAmount(timeout), logger: logger)
            coding.learn(from: response.headers)
            return response
        } catch {
            throw failure(error, method, target)
        }
    }

    /// Reads the whole body of an answer whose head has arrived, up to ``maxResponseBytes``
    /// (decompressed, when the answer is gzip: ``HTTPContentCoding/decode(_:headers:limit:)``);
    /// with ``bodyIdleTimeout``, fails (`HTTPClientError.readTimeout`, as transient) when no
    /// part of it arrives for that long: a server that stalls mid-answer does not hold the
    /// call forever.
    ///
    /// - Throws: as ``send(_:_:bearer:body:timeout:)``.
    func read(_ response: HTTPClientResponse, _ method: HTTPMethod, _ target: String) async throws -> Answer {
        do {
            let bytes: ByteBuffer
            if let bodyIdleTimeout {
                bytes = try await Self.collect(response.body, upTo: maxResponseBytes, idleTimeout: bodyIdleTimeout)
            } else {
                bytes = try await response.body.collect(upTo: maxResponseBytes)
            }
            let status = Int(response.status.code)
            logger.debug("answer received", metadata: ["target": "\(target)", "status": "\(status)"])
            let body = try HTTPContentCoding.decode(bytes, headers: response.headers, limit: maxResponseBytes)
            return Answer(status: status, headers: response.headers, body: body)
        } catch {
            throw failure(error, method, target)
        }
    }

    /// Collects `body` up to `limit` bytes; throws `HTTPClientError.readTimeout` when no part
    /// arrives for `idleTimeout` (the reading task is then cancelled, which closes the
    /// connection), `NIOTooManyBytesError` past `limit`.
    static func collect(_ body: HTTPClientResponse.Body, upTo limit: Int, idleTimeout: Duration) async throws -> ByteBuffer {
        let lastPart = LastPart()
        return try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask {
                var collected = ByteBuffer()
                for try await part in body {
                    lastPart.touch()
                    guard collected.readableBytes + part.readableBytes <= limit else { throw NIOTooManyBytesError(maxBytes: limit) }
                    collected.writeImmutableBuffer(part)
                }
                return collected
            }
            group.addTask {
                while true {
                    let deadline = lastPart.time + idleTimeout
                    guard ContinuousClock.now < deadline else { throw HTTPClientError.readTimeout }
                    try await Task.sleep(until: deadline, clock: .continuous)
                }
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let collected = result { return collected }
            }
            throw HTTPClientError.readTimeout
        }
    }

    /// When the last part of a body arrived.
    private final class LastPart: Sendable {
        private let arrived = Mutex(ContinuousClock.now)

        var time: ContinuousClock.Instant { arrived.withLock { $0 } }

        func touch() { arrived.withLock { $0 = .now } }
    }

    /// The error thrown for a request that failed before its answer was read.
    private func failure(_ error: any Error, _ method: HTTPMethod, _ target: String) -> any Error {
        if Task.isCancelled { return CancellationError() }
        logger.debug("request failed", metadata: ["target": "\(target)", "error": "\(error)"])
        return SyncTransportError(
            .transient,
            "\(method.rawValue) \(Self.path(of: target)) failed before the server answered: \(error)",
            underlying: error
        )
    }

    /// `target` without its query, for messages (queries may name devices).
    static func path(of target: String) -> Substring {
        target.prefix { $0 != "?" }
    }

    /// `duration` as a NIO time amount, saturating instead of overflowing; negative is zero.
    static func timeAmount(_ duration: Duration) -> TimeAmount {
        guard duration > .zero else { return .zero }
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return .nanoseconds(.max) }
        let (total, overflowAgain) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        return .nanoseconds(overflowAgain ? .max : total)
    }
}
