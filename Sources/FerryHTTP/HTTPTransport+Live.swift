import FerryCore
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import WSClient

extension HTTPTransport {
    /// Opens the live channel of `space` (`GET /sync/mutations/live`, a WebSocket) and yields
    /// each page the server sends: first the page at `since` at once (possibly empty, with the
    /// space's head and log id), then, whenever mutations visible to this device are committed,
    /// the pages after the last one, in order (`hasMore` while more follow at once).
    ///
    /// Pages carry exactly what `pull` would answer for the same cursor; a device that applies
    /// them in order and keeps `latestSeq` as its cursor needs no other pull while the
    /// channel is open. The server leaves out the pages that would hold only `excludeDevice`'s
    /// own mutations (its cursor moves past them silently).
    ///
    /// The stream ends without error when the channel closes normally. It ends by throwing a
    /// ``FerryCore/SyncTransportError`` classified as the pull's errors are:
    /// - an upgrade the server refused: the same URL is asked again as a plain request to learn
    ///   why, so that `401` (after one token refresh), `403`, `409 cursor_ahead`, `410
    ///   history_pruned` and `429` (with its `Retry-After`) are reported as for `pull`;
    /// - a close code `4000 + status` (4401 token expired or revoked, 4410 history pruned, 4503
    ///   storage unavailable): the error of that status, with the code and message of the close
    ///   frame's JSON reason when it has one;
    /// - `1001` (the server shuts down) and other closes: `transient`.
    ///
    /// Pages are read from the connection as they come and buffered until iterated: a consumer
    /// much slower than the server holds the pages it has not read in memory (the server, for
    /// its part, sends a page only after the previous one was written out).
    ///
    /// Cancelling the task that iterates the stream (or dropping the stream) closes the channel.
    public func liveChanges(
        space: String,
        since: Int64,
        excludeDevice: String?,
        limit: Int? = nil
    ) -> AsyncThrowingStream<PullResponse, any Error> {
        var target = "/sync/mutations/live?space=\(Self.percentEncode(space))&since_seq=\(since)"
        if let limit { target += "&limit=\(limit)" }
        if let excludeDevice { target += "&exclude_device=\(Self.percentEncode(excludeDevice))" }
        let (stream, continuation) = AsyncThrowingStream<PullResponse, any Error>.makeStream(bufferingPolicy: .unbounded)
        let session = session
        let requestTimeout = requestTimeout
        let task = Task {
            do {
                try await Self.runLive(session: session, target: target, timeout: requestTimeout, continuation: continuation)
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private static func runLive(
        session: HTTPSession,
        target: String,
        timeout: Duration,
        continuation: AsyncThrowingStream<PullResponse, any Error>.Continuation
    ) async throws {
        let base = session.exchange.baseURL
        let url: String
        if base.hasPrefix("https://") {
            url = "wss://" + base.dropFirst("https://".count) + target
        } else if base.hasPrefix("http://") {
            url = "ws://" + base.dropFirst("http://".count) + target
        } else {
            url = base + target
        }
        let credentials = await session.refresher.current()
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(credentials.accessToken)"
        let maxBytes = session.exchange.maxResponseBytes
        let closeFrame: WebSocketCloseFrame?
        do {
            closeFrame = try await WebSocketClient.connect(
                url: url,
                configuration: WebSocketClientConfiguration(maxFrameSize: min(maxBytes, Int(UInt32.max)), additionalHeaders: headers),
                logger: session.logger
            ) { inbound, _, _ in
                for try await message in inbound.messages(maxSize: maxBytes) {
                    guard case .text(let text) = message else { continue }
                    do {
                        continuation.yield(try PullResponse(jsonBytes: Array(text.utf8)))
                    } catch {
                        throw SyncTransportError(
                            .transient,
                            "live: a frame is not a valid pull page; something other than a Ferry server may have answered"
                        )
                    }
                }
            }
        } catch let error as WebSocketClientError where error == .webSocketUpgradeFailed {
            // The server refused the upgrade: the same request without it answers why.
            _ = try await session.authorized(.GET, target, body: nil, timeout: timeout, route: "live")
            throw SyncTransportError(.transient, "live: the server did not upgrade the request to a WebSocket")
        }
        guard let closeFrame else { return }
        try Self.check(closeFrame)
    }

    /// Throws the error a close frame stands for; a normal closure throws nothing.
    static func check(_ frame: WebSocketCloseFrame) throws {
        let code: UInt16
        switch frame.closeCode {
        case .normalClosure: return
        case .unknown(let value): code = value
        case .goingAway:
            throw SyncTransportError(.transient, "live: the server is going away (1001)\(frame.reason.map { ": \($0)" } ?? "")")
        default:
            throw SyncTransportError(.transient, "live: the channel closed (\(frame.closeCode))\(frame.reason.map { ": \($0)" } ?? "")")
        }
        guard (4000..<5000).contains(code) else {
            throw SyncTransportError(.transient, "live: the channel closed with code \(code)")
        }
        var body = ByteBuffer()
        if let reason = frame.reason { body.writeString(reason) }
        throw error(status: Int(code) - 4000, headers: [:], body: body, route: "live")
    }
}
