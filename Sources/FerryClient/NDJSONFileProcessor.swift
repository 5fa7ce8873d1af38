import FerryCore
import Foundation

/// An ``FerryCore/EventProcessor`` that writes each event as one NDJSON line,
/// `{"type":…,"data":…,"ack":…}`, to a file (appending) or to standard output.
///
/// Lines are buffered in memory as chunks are processed and written out when the buffer
/// passes 1 MiB. ``flush()``, which the pipeline calls before sending acknowledgements, writes
/// the buffer and, for a file, `fsync`s it: a line is on disk before its ack leaves.
/// ``reset()`` (the server cleared the device's checkpoints, the stream starts over) drops
/// the buffer and truncates the file to empty, so that the file holds one copy of the
/// space's events; on standard output it only drops the buffer.
///
/// The file is opened in ``init(path:)`` and closed when the processor is released. A last
/// line without its newline (a run killed in the middle of a write) is cut off when the file
/// is opened: it was never acknowledged, so it comes again.
public final class NDJSONFileProcessor: EventProcessor {
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private var buffer: [UInt8] = []
    private static let bufferLimit = 1 << 20

    /// The file written to, or `nil` for standard output.
    public let path: String?

    /// Opens `path` for appending, creating it (mode 0644) when absent; `nil` writes to
    /// standard output.
    /// - Throws: ``FerryCore/FerryError`` (`internal`) when the file cannot be opened.
    public init(path: String?) throws {
        self.path = path
        if let path {
            let descriptor = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else {
                throw FerryError(.internal, "cannot open \(path) for appending: \(String(cString: strerror(errno)))")
            }
            do {
                try Self.cutTornLastLine(descriptor, path: path)
            } catch {
                close(descriptor)
                throw error
            }
            self.descriptor = descriptor
            self.ownsDescriptor = true
        } else {
            self.descriptor = STDOUT_FILENO
            self.ownsDescriptor = false
        }
        buffer.reserveCapacity(Self.bufferLimit + 64 << 10)
    }

    /// Truncates the file after its last newline, when bytes follow it.
    private static func cutTornLastLine(_ descriptor: Int32, path: String) throws {
        var end = lseek(descriptor, 0, SEEK_END)
        guard end > 0 else { return }
        var block = [UInt8](repeating: 0, count: 64 << 10)
        var keep: off_t = 0
        scan: while end > 0 {
            let start = max(0, end - off_t(block.count))
            let count = Int(end - start)
            let read = block.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, count, start) }
            guard read == count else {
                throw FerryError(.internal, "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            for index in stride(from: count - 1, through: 0, by: -1) where block[index] == UInt8(ascii: "\n") {
                keep = start + off_t(index) + 1
                break scan
            }
            end = start
        }
        let size = lseek(descriptor, 0, SEEK_END)
        guard keep < size else { return }
        guard ftruncate(descriptor, keep) == 0, fsync(descriptor) == 0 else {
            throw FerryError(.internal, "cannot cut the torn last line of \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        if ownsDescriptor { close(descriptor) }
    }

    /// Appends the events' lines to the buffer, writing it out when it is large.
    public func process(_ events: [StreamEvent], type: String) async throws {
        for event in events {
            Self.appendLine(of: event, to: &buffer)
        }
        if buffer.count >= Self.bufferLimit { try writeBuffer() }
    }

    /// Writes the buffer out and, for a file, syncs it to disk.
    public func flush() async throws {
        try writeBuffer()
        if ownsDescriptor, fsync(descriptor) != 0 {
            throw FerryError(.internal, "cannot sync \(path ?? "the output"): \(String(cString: strerror(errno)))")
        }
    }

    /// Drops the buffer and truncates the file to empty.
    public func reset() async throws {
        buffer.removeAll(keepingCapacity: true)
        if ownsDescriptor, ftruncate(descriptor, 0) != 0 {
            throw FerryError(.internal, "cannot truncate \(path ?? "the output"): \(String(cString: strerror(errno)))")
        }
    }

    /// `{"type":…,"data":…,"ack":…}` and a newline.
    static func appendLine(of event: StreamEvent, to out: inout [UInt8]) {
        out.append(contentsOf: #"{"type":"#.utf8)
        appendString(event.type, to: &out)
        out.append(contentsOf: #","data":"#.utf8)
        out.append(contentsOf: event.dataBytes)
        out.append(contentsOf: #","ack":"#.utf8)
        appendString(event.ack, to: &out)
        out.append(contentsOf: "}\n".utf8)
    }

    /// A JSON string. Types and acks are checked to be entity names and `TYPE|SEQ`, so they
    /// hold no character that needs escaping; escapes are written anyway for safety.
    private static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            default:
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private func writeBuffer() throws {
        var written = 0
        while written < buffer.count {
            let result = buffer.withUnsafeBytes { bytes -> Int in
                guard let base = bytes.baseAddress else { return 0 }
                return write(descriptor, base + written, bytes.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                buffer.removeFirst(written)
                throw FerryError(.internal, "cannot write to \(path ?? "the output"): \(reason)")
            }
            written += result
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
