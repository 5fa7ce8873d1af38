import CompressNIO
import NIOCore

/// The gzip compression both sides of the protocol's optional `gzip` content coding write
/// with: zlib's fastest level (1).
///
/// On a page of 1,000 mutations (400 KB of JSON) level 1 compresses about 3.7 times faster
/// than zlib's default level 6 and writes about 13% more bytes; on Ferry's JSON, where keys
/// repeat in every mutation, both shrink the bytes more than tenfold. Compression is paid on
/// every page, push and snapshot chunk, so the fast level is the default (the figures are in
/// docs/benchmarks.md, "Bytes on the wire").
package enum Gzip {
    /// The algorithm: gzip at zlib's fastest level.
    package static var algorithm: CompressionAlgorithm {
        .gzip(configuration: ZlibConfiguration(compressionLevel: .fastestCompression))
    }

    /// `bytes` as one gzip member, or `nil` when zlib fails (it does not with an output
    /// buffer of its maximum size, which `compress(with:)` allocates).
    package static func compress(_ bytes: ByteBuffer) -> ByteBuffer? {
        var input = bytes
        return try? input.compress(with: algorithm)
    }
}
