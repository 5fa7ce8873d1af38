import FerryCore
import NIOCore

/// The lines of an NDJSON body, split as its buffers arrive: each element is one line's
/// bytes, without its `\n` (and without a `\r` before it).
///
/// Memory stays bounded whatever the body's length: the buffer being read, and the start of
/// a line that spans buffers, never more than ``maxLineBytes``. Empty lines are skipped. A
/// last line without a newline is a line. Iterate it from one task.
public struct NDJSONLines<Base: AsyncSequence>: AsyncSequence where Base.Element == ByteBuffer {
    /// One line.
    public typealias Element = [UInt8]

    /// The body's buffers.
    public let base: Base
    /// The longest line read; a longer one throws ``SyncTransportError`` of kind `permanent`.
    public let maxLineBytes: Int

    /// Splits the buffers of `base` into lines of at most `maxLineBytes` bytes.
    public init(_ base: Base, maxLineBytes: Int = 4 << 20) {
        self.base = base
        self.maxLineBytes = Swift.max(1, maxLineBytes)
    }

    /// Reads the lines.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), maxLineBytes: maxLineBytes)
    }

    /// Reads the lines, one buffer of the body at a time.
    public struct AsyncIterator: AsyncIteratorProtocol {
        private var base: Base.AsyncIterator
        private let maxLineBytes: Int
        /// The unread part of the buffer being split.
        private var buffer = ByteBuffer()
        /// The start of a line that began in an earlier buffer.
        private var partial: [UInt8] = []
        private var lineNumber = 0
        private var ended = false

        init(base: Base.AsyncIterator, maxLineBytes: Int) {
            self.base = base
            self.maxLineBytes = maxLineBytes
        }

        /// The next line that is not empty, or `nil` after the last.
        /// - Throws: what the body throws; ``SyncTransportError`` (`permanent`) for a line
        ///   longer than the maximum.
        public mutating func next() async throws -> [UInt8]? {
            while true {
                if let line = try nextInBuffer() {
                    if line.isEmpty { continue }
                    return line
                }
                if ended { return nil }
                if let more = try await base.next() {
                    buffer = more
                } else {
                    ended = true
                    guard !partial.isEmpty else { return nil }
                    var line = partial
                    partial = []
                    if line.last == UInt8(ascii: "\r") { line.removeLast() }
                    guard line.count <= maxLineBytes else { throw tooLong() }
                    if line.isEmpty { return nil }
                    return line
                }
            }
        }

        /// The next line completed by the buffer (maybe empty), or `nil` when the buffer
        /// holds no newline: its bytes are then kept as the start of the next line.
        private mutating func nextInBuffer() throws -> [UInt8]? {
            let readable = buffer.readableBytes
            guard readable > 0 else { return nil }
            let view = buffer.readableBytesView
            guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
                guard partial.count + readable <= maxLineBytes + 1 else { throw tooLong() }
                partial.append(contentsOf: view)
                buffer.moveReaderIndex(forwardBy: readable)
                return nil
            }
            let length = newline - view.startIndex
            // One more byte is allowed for a `\r` before the newline.
            guard partial.count + length <= maxLineBytes + 1 else { throw tooLong() }
            var line: [UInt8]
            if partial.isEmpty {
                line = Array(view[view.startIndex..<newline])
            } else {
                line = partial
                partial = []
                line.append(contentsOf: view[view.startIndex..<newline])
            }
            buffer.moveReaderIndex(forwardBy: length + 1)
            lineNumber += 1
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            guard line.count <= maxLineBytes else { throw tooLong() }
            return line
        }

        private func tooLong() -> SyncTransportError {
            SyncTransportError(
                .permanent,
                "stream: line \(lineNumber + 1) is longer than \(maxLineBytes) bytes, the most this client reads"
            )
        }
    }
}
