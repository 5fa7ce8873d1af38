import AsyncHTTPClient
import CompressNIO
import FerryCompression
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// The client's side of the protocol's optional `gzip` content coding, shared by the requests
/// of one transport.
///
/// With ``enabled``, requests whose answers are read whole (pulls, pushes, manifests, snapshot
/// chunks) send `Accept-Encoding: gzip`, and a gzip answer is decompressed, never past the
/// transport's ``HTTPTransportConfiguration/maxResponseBytes``. A push body of at least
/// ``minimumBytes`` is sent gzip-compressed once an answer of the server has carried
/// `Accept-Encoding: gzip` (its advertisement, RFC 7694): never before, so a server that does
/// not know the coding never receives it.
final class HTTPContentCoding: Sendable {
    /// Whether the client asks for and sends gzip at all.
    let enabled: Bool
    /// The smallest request body compressed.
    let minimumBytes: Int
    private let advertised = Atomic<Bool>(false)

    /// Creates the coding state of one transport.
    init(enabled: Bool, minimumBytes: Int) {
        self.enabled = enabled
        self.minimumBytes = minimumBytes
    }

    /// Whether the server has advertised that it accepts gzip request bodies.
    var serverAcceptsGzip: Bool { advertised.load(ordering: .relaxed) }

    /// Notes the server's advertisement when `headers` carry it.
    func learn(from headers: HTTPHeaders) {
        guard enabled, !serverAcceptsGzip else { return }
        let accepts = headers["Accept-Encoding"].joined(separator: ",").split(separator: ",").contains {
            $0.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() == "gzip"
        }
        if accepts { advertised.store(true, ordering: .relaxed) }
    }

    /// Forgets the advertisement (after the server refused a compressed body with `415`).
    func forget() { advertised.store(false, ordering: .relaxed) }

    /// `body` and the headers to send it with: gzip-compressed, with `Content-Encoding`, when
    /// the server accepts it and the body is large enough; as it is otherwise.
    func encode(_ body: ByteBuffer) -> (body: ByteBuffer, headers: [(name: String, value: String)]) {
        guard enabled, serverAcceptsGzip, body.readableBytes >= minimumBytes else { return (body, []) }
        guard let compressed = Gzip.compress(body) else { return (body, []) }
        return (compressed, [(name: "Content-Encoding", value: "gzip")])
    }

    /// `body` decoded when `headers` say it is gzip and it starts as gzip does (a body that a
    /// client's own decompressor already decoded is left as it is).
    ///
    /// - Throws: `NIOTooManyBytesError` when it decodes to more than `limit` bytes (checked as
    ///   it grows), `CompressNIOError` when it is corrupt or truncated.
    static func decode(_ body: ByteBuffer, headers: HTTPHeaders, limit: Int) throws -> ByteBuffer {
        let coding = headers["Content-Encoding"].joined(separator: ",").trimmingCharacters(in: .whitespaces).lowercased()
        guard coding == "gzip" || coding == "x-gzip", body.readableBytesView.starts(with: [0x1f, 0x8b]) else { return body }
        return try gunzip(body, limit: limit)
    }

    /// `compressed`, one gzip member, decompressed; at most `limit` bytes are ever written.
    ///
    /// - Throws: `NIOTooManyBytesError` past `limit`, the decompressor's error when it is
    ///   corrupt or truncated.
    static func gunzip(_ compressed: ByteBuffer, limit: Int) throws -> ByteBuffer {
        do {
            return try Gunzip.inflate(compressed, limit: limit)
        } catch .tooLarge {
            throw NIOTooManyBytesError(maxBytes: limit)
        } catch .corrupt(let error) {
            throw error
        }
    }
}
