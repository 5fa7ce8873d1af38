import CompressNIO
import NIOCore

/// Decompresses one gzip member without ever writing more than a limit: what both sides of
/// the protocol's optional `gzip` content coding use to read a body from the other side,
/// whose decompressed size is unknown and may be hostile (a small body that inflates hugely).
package enum Gunzip {
    /// Why a body could not be decompressed.
    package enum Failure: Error {
        /// The content is longer than the limit; decompression stopped there.
        case tooLarge(limit: Int)
        /// The body is not valid gzip, or ends before the gzip trailer.
        case corrupt(any Error)
    }

    /// `compressed`, one gzip member, decompressed: at most `limit` bytes are ever written,
    /// in steps of 64 KiB; bytes after the member's end are ignored.
    ///
    /// - Throws: ``Failure``.
    package static func inflate(_ compressed: ByteBuffer, limit: Int) throws(Failure) -> ByteBuffer {
        do {
            return try inflateOrThrow(compressed, limit: limit)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .corrupt(error)
        }
    }

    private static func inflateOrThrow(_ compressed: ByteBuffer, limit: Int) throws -> ByteBuffer {
        var input = compressed
        let decompressor = CompressionAlgorithm.gzip().decompressor
        try decompressor.startStream()
        defer { try? decompressor.finishStream() }
        let step = 64 << 10
        var output = ByteBufferAllocator().buffer(capacity: min(limit + 1, max(step, compressed.readableBytes * 4)))
        // An empty input whose pointer is not nil, to drain and end the stream.
        var drained = ByteBuffer(bytes: [0])
        drained.moveReaderIndex(forwardBy: 1)
        while true {
            if output.writableBytes == 0 {
                guard output.readableBytes <= limit else { throw Failure.tooLarge(limit: limit) }
                output.reserveCapacity(minimumWritableBytes: min(step, limit + 1 - output.readableBytes))
            }
            let written = output.readableBytes
            let unread = input.readableBytes
            do {
                if input.readableBytes > 0 {
                    try decompressor.streamInflate(from: &input, to: &output)
                } else {
                    try decompressor.streamInflate(from: &drained, to: &output)
                }
                // Nothing read, nothing written, no error: the stream has ended.
                if input.readableBytes == unread, output.readableBytes == written { break }
            } catch let error as CompressNIOError where error == .bufferOverflow {
                // The output is full; it grows at the top of the loop.
            }
            guard output.readableBytes <= limit else { throw Failure.tooLarge(limit: limit) }
        }
        return output
    }
}
