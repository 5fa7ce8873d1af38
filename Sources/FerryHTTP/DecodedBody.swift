import AsyncHTTPClient
import CompressNIO
import FerryCore
import Foundation
import NIOCore
import NIOHTTP1

/// The buffers of a streamed answer's body as they arrive, gzip-decoded when the answer came
/// with `Content-Encoding: gzip`, and as they are otherwise.
///
/// Decoding is incremental: each buffer of the body is inflated into buffers of at most
/// 64 KiB, handed on one at a time, so memory stays bounded whatever the stream's length and
/// however much a small body inflates (the reader, ``NDJSONLines``, bounds each line).
/// Bytes after the end of the gzip member are ignored. Iterate it from one task.
public struct DecodedBody: AsyncSequence {
    /// One buffer of the decoded body.
    public typealias Element = ByteBuffer

    /// The largest buffer an inflated step yields.
    static let step = 64 << 10

    private let base: HTTPClientResponse.Body
    private let gzip: Bool

    /// The body of `response`, decoded as its `Content-Encoding` says (gzip or none).
    init(_ response: HTTPClientResponse) {
        base = response.body
        let coding = response.headers["Content-Encoding"].last?.trimmingCharacters(in: .whitespaces).lowercased()
        gzip = coding == "gzip" || coding == "x-gzip"
    }

    /// Reads the decoded buffers.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), inflater: gzip ? try? ZlibDecompressor(algorithm: .gzip) : nil, gzip: gzip)
    }

    /// Reads the body one buffer at a time and inflates it when it is gzip.
    public struct AsyncIterator: AsyncIteratorProtocol {
        private var base: HTTPClientResponse.Body.AsyncIterator
        private let inflater: ZlibDecompressor?
        private let gzip: Bool
        /// The compressed bytes not inflated yet.
        private var input = ByteBuffer()
        /// The gzip member has ended: what follows is ignored.
        private var ended = false

        init(base: HTTPClientResponse.Body.AsyncIterator, inflater: ZlibDecompressor?, gzip: Bool) {
            self.base = base
            self.inflater = inflater
            self.gzip = gzip
        }

        /// The next decoded buffer, or `nil` after the last.
        /// - Throws: what the body throws; ``SyncTransportError`` (`transient`) when the gzip
        ///   data is corrupt.
        public mutating func next() async throws -> ByteBuffer? {
            guard gzip else { return try await base.next() }
            guard let inflater else { throw SyncTransportError(.transient, "stream: zlib could not be started") }
            while !ended {
                if input.readableBytes > 0 {
                    var output = ByteBufferAllocator().buffer(capacity: DecodedBody.step)
                    let unread = input.readableBytes
                    do {
                        try inflater.inflate(from: &input, to: &output)
                    } catch let error as CompressNIOError where error == .bufferOverflow || error == .inputBufferOverflow {
                        // The output is full (more follows from the same input), or the input
                        // ran out mid-block (more follows from the body).
                    } catch {
                        throw SyncTransportError(.transient, "stream: the gzip body is corrupt (\(error))", underlying: error)
                    }
                    if output.readableBytes > 0 { return output }
                    // Input left that gives nothing: the member ended before it.
                    if input.readableBytes > 0 && input.readableBytes == unread { ended = true }
                    continue
                }
                guard let more = try await base.next() else { return nil }
                input = more
            }
            // Drain and ignore what follows the member.
            while try await base.next() != nil {}
            return nil
        }
    }
}
