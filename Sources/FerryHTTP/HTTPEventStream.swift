import AsyncHTTPClient
import FerryCore
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// The ``FerryCore/EventStream`` of one (space, device) of a Ferry server:
/// `POST /sync/stream`, `POST /sync/ack`, and the checkpoint routes `GET` and
/// `DELETE /sync/ack`.
///
/// It authenticates and classifies errors as ``HTTPTransport`` does (same configuration,
/// `401` refreshed once then retried, every failure a ``FerryCore/SyncTransportError``).
///
/// The stream's body is split into lines as it arrives (``NDJSONLines``), so memory stays
/// bounded whatever its length; a line longer than ``maxLineBytes`` fails the stream. When
/// the configuration's ``HTTPTransportConfiguration/compression`` uses gzip, the stream asks
/// for it (`Accept-Encoding: gzip`) and inflates the body as it arrives (``DecodedBody``).
/// Timeouts: ``HTTPTransportConfiguration/requestTimeout`` bounds the wait for the answer's
/// head only, never the body; when the stream creates its own HTTP client, a read that waits
/// longer than `idleTimeout` for the next bytes fails the stream (AsyncHTTPClient's read
/// timeout). That timeout does not pause for back-pressure: a processor that spends longer on
/// one chunk stops the reading as long, and fails the stream too. Cancelling the task that
/// reads the lines, or dropping the iterator, closes the connection.
///
/// Call ``shutdown()`` when done.
public final class HTTPEventStream: EventStream {
    /// The lines of one opened stream.
    public typealias Lines = NDJSONLines<DecodedBody>

    /// The most acks sent in one `POST /sync/ack` (the protocol's limit).
    public static let maxAcksPerRequest = 1000

    /// The space streamed.
    public let space: String
    /// The device whose checkpoints are read and moved.
    public let deviceID: String
    /// The longest line read. Default: 4 MiB.
    public let maxLineBytes: Int
    private let session: HTTPSession

    /// Creates a stream of `space` for `deviceID` on the server and with the tokens of
    /// `configuration`. Sends nothing.
    ///
    /// - Parameters:
    ///   - maxLineBytes: The longest line read (an event with its mutation's payload).
    ///   - idleTimeout: With no ``HTTPTransportConfiguration/httpClient``, how long a read
    ///     may wait for the next bytes of an answer; `nil`: no limit. Default: 60 seconds.
    public init(
        configuration: HTTPTransportConfiguration,
        space: String,
        deviceID: String,
        maxLineBytes: Int = 4 << 20,
        idleTimeout: Duration? = .seconds(60)
    ) {
        self.space = space
        self.deviceID = deviceID
        self.maxLineBytes = maxLineBytes
        self.session = HTTPSession(configuration: configuration, readTimeout: idleTimeout)
    }

    /// Opens `POST /sync/stream` for `types` and answers its lines as they arrive.
    ///
    /// - Throws: ``FerryCore/SyncTransportError`` classified from the server's answer (`400`
    ///   for bad types, `403` for a space outside the token's scope), `CancellationError`.
    ///   Reading the lines throws `SyncTransportError` too when the connection fails.
    public func open(types: [String]) async throws -> Lines {
        let body = JSONValue.object([
            "space": .string(space),
            "device_id": .string(deviceID),
            "types": .array(types.map(JSONValue.string)),
        ])
        let response = try await session.authorizedResponse(
            .POST,
            "/sync/stream",
            body: ByteBuffer(bytes: body.serialized()),
            timeout: session.requestTimeout,
            route: "stream",
            accept: "application/x-ndjson"
        )
        return NDJSONLines(DecodedBody(response), maxLineBytes: maxLineBytes)
    }

    /// Acknowledges `acks` with `POST /sync/ack`, expecting `204`.
    ///
    /// The list is compacted first (``compact(_:)``): the server keeps the highest seq per
    /// type, so the last ack per type says the same; then it is sent in requests of at most
    /// ``maxAcksPerRequest``. An empty list sends nothing.
    ///
    /// - Throws: ``FerryCore/SyncTransportError``: `permanent` without sending anything when
    ///   an ack is not `TYPE|SEQ`; classified from the server's answer otherwise.
    public func acknowledge(_ acks: [String]) async throws {
        let compacted = try Self.compact(acks)
        var start = 0
        while start < compacted.count {
            let end = min(start + Self.maxAcksPerRequest, compacted.count)
            let body = JSONValue.object([
                "space": .string(space),
                "device_id": .string(deviceID),
                "acks": .array(compacted[start..<end].map { .string($0.description) }),
            ])
            _ = try await session.authorized(
                .POST,
                "/sync/ack",
                body: ByteBuffer(bytes: body.serialized()),
                timeout: session.requestTimeout,
                route: "ack"
            )
            start = end
        }
    }

    /// The device's checkpoints, from `GET /sync/ack`: one ack per type acknowledged
    /// (`SyncComplete` included).
    ///
    /// - Throws: ``FerryCore/SyncTransportError``; `transient` when the answer is not the
    ///   expected JSON.
    public func checkpoints() async throws -> [StreamAck] {
        let answer = try await session.authorized(
            .GET,
            checkpointTarget(types: nil),
            body: nil,
            timeout: session.requestTimeout,
            route: "checkpoints"
        )
        let list = try HTTPTransport.decode(AckList.self, from: answer, route: "checkpoints")
        do {
            return try list.acks.map { try StreamAck(parsing: $0) }
        } catch {
            throw SyncTransportError(
                .transient,
                "checkpoints: the server answered an ack that is not TYPE|SEQ: \(error)",
                underlying: error
            )
        }
    }

    /// Clears the device's checkpoints with `DELETE /sync/ack`: all of them, or only those of
    /// `types`.
    ///
    /// - Throws: ``FerryCore/SyncTransportError``.
    public func clearCheckpoints(types: [String]? = nil) async throws {
        _ = try await session.authorized(
            .DELETE,
            checkpointTarget(types: types),
            body: nil,
            timeout: session.requestTimeout,
            route: "checkpoints"
        )
    }

    /// Waits for a token refresh in flight, then shuts down the HTTP client if the stream
    /// created it. Call it once, after the last call has returned and the last stream has
    /// been read or dropped.
    public func shutdown() async throws {
        try await session.shutdown()
    }

    /// `acks` as the server would apply them, in fewer tokens: `SyncReset|0` first when the
    /// list holds it, then the highest ack of each type, types in the order they first
    /// appear.
    ///
    /// - Throws: ``FerryCore/SyncTransportError`` (`permanent`) naming the first token that
    ///   is not `TYPE|SEQ`.
    package static func compact(_ acks: [String]) throws -> [StreamAck] {
        var reset = false
        var order: [String] = []
        var highest: [String: StreamAck] = [:]
        for text in acks {
            let ack: StreamAck
            do {
                ack = try StreamAck(parsing: text)
            } catch {
                throw SyncTransportError(.permanent, "ack: \((error as? FerryError)?.message ?? "\(error)")", underlying: error)
            }
            if ack.isReset {
                reset = true
            } else if let known = highest[ack.type] {
                if ack.seq > known.seq { highest[ack.type] = ack }
            } else {
                order.append(ack.type)
                highest[ack.type] = ack
            }
        }
        var compacted: [StreamAck] = reset ? [.reset] : []
        compacted.reserveCapacity(order.count + 1)
        for type in order {
            if let ack = highest[type] { compacted.append(ack) }
        }
        return compacted
    }

    private func checkpointTarget(types: [String]?) -> String {
        var target = "/sync/ack?space=\(HTTPTransport.percentEncode(space))&device_id=\(HTTPTransport.percentEncode(deviceID))"
        if let types {
            target += "&types=" + types.map(HTTPTransport.percentEncode).joined(separator: ",")
        }
        return target
    }

    /// The answer of `GET /sync/ack`.
    private struct AckList: Decodable {
        var acks: [String]
    }
}
