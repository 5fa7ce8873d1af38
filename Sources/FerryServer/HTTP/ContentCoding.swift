import CompressNIO
import FerryCompression
import FerryCore
import FerryLog
import Foundation
import Hummingbird
import NIOCore

/// The optional `gzip` content coding of `/sync` bodies (the protocol's "Content codings").
///
/// Answers: a pull page, a snapshot chunk and an event stream are sent gzip-compressed to a
/// request whose `Accept-Encoding` accepts `gzip` (a `q` above 0, by name or through `*`);
/// without that header, or with `identity` only, the body is sent as it always was. Bodies
/// below ``minimumBytes`` are never compressed. Every answer that could be compressed carries
/// `Vary: Accept-Encoding`; every `/sync` answer carries `Accept-Encoding: gzip` (RFC 7694),
/// which tells a client that it may send compressed request bodies.
///
/// Requests: a body with `Content-Encoding: gzip` is decompressed with ``decodedBody(of:limit:)``,
/// never past the limit the route enforces on plain bodies. When ``enabled`` is off, nothing
/// is compressed, nothing is advertised, and a compressed request body is refused with `415`.
struct ContentCoding: Sendable {
    /// Whether answers are compressed for the clients that accept it and compressed request
    /// bodies are accepted.
    var enabled: Bool
    /// The smallest answer body compressed, in bytes.
    var minimumBytes: Int

    /// The coding of `configuration`.
    init(configuration: ServerConfiguration) {
        enabled = configuration.compression
        minimumBytes = configuration.compressionMinimumBytes
    }

    /// Whether the `Accept-Encoding` values `values` accept `gzip` (RFC 9110, 12.5.3): named
    /// (or `x-gzip`) with a `q` above 0, or through `*` when `gzip` is not named. No value: no.
    static func acceptsGzip(_ values: [String]) -> Bool {
        var gzip: Double?
        var any: Double?
        for element in values.joined(separator: ",").split(separator: ",") {
            let parts = element.split(separator: ";")
            guard let first = parts.first else { continue }
            let name = first.trimmingCharacters(in: .whitespaces).lowercased()
            var quality = 1.0
            for parameter in parts.dropFirst() {
                let text = parameter.trimmingCharacters(in: .whitespaces).lowercased()
                if text.hasPrefix("q=") { quality = Double(text.dropFirst(2)) ?? 0 }
            }
            switch name {
            case "gzip", "x-gzip": gzip = max(gzip ?? 0, quality)
            case "*": any = quality
            default: break
            }
        }
        return (gzip ?? any ?? 0) > 0
    }

    /// Whether the answer to `request` may be gzip-compressed.
    func compresses(for request: Request) -> Bool {
        enabled && Self.acceptsGzip(request.headers[values: .acceptEncoding])
    }

    /// `response`, whose body is `body`, with `Vary` set, and its body gzip-compressed when
    /// `request` accepts it and `body` is at least ``minimumBytes`` long.
    func encode(_ response: Response, body: [UInt8], for request: Request) -> Response {
        guard enabled else { return response }
        var response = response
        response.headers[.vary] = "Accept-Encoding"
        guard body.count >= minimumBytes, compresses(for: request) else { return response }
        let compressed = Self.gzip(body)
        response.headers[.contentEncoding] = "gzip"
        response.headers[.contentLength] = String(compressed.readableBytes)
        response.body = ResponseBody(byteBuffer: compressed)
        return response
    }

    /// A JSON answer whose body is `json`, compressed as ``encode(_:body:for:)`` says.
    func json(_ json: [UInt8], for request: Request) -> Response {
        encode(JSONResponse.make(json: json), body: json, for: request)
    }

    /// `bytes` as one gzip member.
    static func gzip(_ bytes: [UInt8]) -> ByteBuffer {
        // Compressing into a buffer of the maximum size cannot overflow.
        Gzip.compress(ByteBuffer(bytes: bytes)) ?? ByteBuffer(bytes: bytes)
    }

    /// The body of `request` decoded from its `Content-Encoding`, at most `limit` bytes
    /// whether it is compressed or not (`413` past it, checked on the decompressed size as it
    /// grows, so a small body that inflates hugely is refused without being inflated whole).
    ///
    /// - Throws: ``FerryCore/FerryError``: `413` over `limit`; `400` for a corrupt or truncated
    ///   gzip body; `415` for a coding other than `gzip` and `identity` (and for `gzip` when
    ///   compression is off).
    func decodedBody(of request: Request, limit: Int) async throws -> ByteBuffer {
        let codings = request.headers[values: .contentEncoding]
            .joined(separator: ",")
            .split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty && $0 != "identity" }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw FerryError(.payloadTooLarge, "the request body is \(length) bytes; at most \(limit) are accepted")
        }
        guard !codings.isEmpty else { return try await request.body.collect(upTo: limit) }
        guard enabled, codings == ["gzip"] || codings == ["x-gzip"] else {
            throw FerryError(
                .unsupportedMediaType,
                "the request body's Content-Encoding '\(codings.joined(separator: ", "))' is not accepted; send \(enabled ? "gzip or " : "")identity"
            )
        }
        let compressed = try await request.body.collect(upTo: limit)
        return try Self.gunzip(compressed, limit: limit)
    }

    /// `compressed`, one gzip member, decompressed: at most `limit` bytes are ever written.
    ///
    /// - Throws: ``FerryCore/FerryError``: `413` when the content is longer than `limit`, `400`
    ///   when it is corrupt or truncated.
    static func gunzip(_ compressed: ByteBuffer, limit: Int) throws -> ByteBuffer {
        do {
            return try Gunzip.inflate(compressed, limit: limit)
        } catch .tooLarge {
            throw tooLarge(limit)
        } catch .corrupt(let error) {
            throw FerryError(.badRequest, "the request body is not valid gzip (\(error))", underlying: error)
        }
    }

    private static func tooLarge(_ limit: Int) -> FerryError {
        FerryError(.payloadTooLarge, "the request body decompresses to more than \(limit) bytes; at most \(limit) are accepted")
    }
}

/// Compresses the parts of a streamed answer as one gzip stream, flushed after every part,
/// so that each line reaches the client when it is written and memory holds one part.
final class GzipStreamEncoder {
    private let compressor: any NIOCompressor

    /// Starts the gzip stream.
    init() throws {
        compressor = Gzip.algorithm.compressor
        try compressor.startStream()
    }

    /// `bytes` compressed and flushed (`Z_SYNC_FLUSH`): everything written so far decodes.
    func part(_ bytes: [UInt8]) throws -> ByteBuffer {
        var input = ByteBuffer(bytes: bytes)
        return try input.compressStream(with: compressor, flush: .sync)
    }

    /// The end of the gzip stream (its trailer).
    func finish() throws -> ByteBuffer {
        var input = ByteBuffer(bytes: [0])
        input.moveReaderIndex(forwardBy: 1)
        let tail = try input.compressStream(with: compressor, flush: .finish)
        try compressor.finishStream()
        return tail
    }
}

/// Adds `Accept-Encoding: gzip` to the `/sync` answers (RFC 7694): the server's
/// advertisement that it accepts gzip-compressed request bodies.
struct AcceptEncodingMiddleware: RouterMiddleware {
    func handle(
        _ request: Request,
        context: FerryRequestContext,
        next: (Request, FerryRequestContext) async throws -> Response
    ) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.acceptEncoding] = "gzip"
        return response
    }
}
