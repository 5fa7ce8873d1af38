import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A raw TCP connection to 127.0.0.1, for what an HTTP client will not do: stay idle, send
/// half a request head, stall a body, send a head larger than a server accepts. Non-blocking
/// throughout, every wait bounded; closed when the value is dropped or by ``close()``.
final class RawConnection {
    private var descriptor: Int32

    /// Connects to `127.0.0.1:port`, waiting at most `timeout`.
    init(port: Int, timeout: Duration = .seconds(10)) throws {
        #if canImport(Glibc)
            descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw RawConnectionError("socket: errno \(errno)") }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result != 0 {
            guard errno == EINPROGRESS else { throw RawConnectionError("connect: errno \(errno)") }
            guard poll(events: Int16(POLLOUT), timeout: timeout) else { throw RawConnectionError("connect timed out") }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length)
            guard error == 0 else { throw RawConnectionError("connect: error \(error)") }
        }
    }

    deinit { close() }

    /// Closes the connection (again is harmless).
    func close() {
        if descriptor >= 0 {
            #if canImport(Glibc)
                _ = Glibc.close(descriptor)
            #else
                _ = Darwin.close(descriptor)
            #endif
            descriptor = -1
        }
    }

    /// Waits until `events` are ready or `timeout` passes; answers whether they are.
    private func poll(events: Int16, timeout: Duration) -> Bool {
        var entry = pollfd(fd: descriptor, events: events, revents: 0)
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        #if canImport(Glibc)
            return Glibc.poll(&entry, 1, max(0, milliseconds)) > 0
        #else
            return Darwin.poll(&entry, 1, max(0, milliseconds)) > 0
        #endif
    }

    /// Sends `bytes` as far as the peer takes them within `timeout`, reading what it answers
    /// meanwhile; answers what was read. Stops early when the peer closes.
    @discardableResult
    func send(_ bytes: [UInt8], timeout: Duration = .seconds(10)) -> (received: [UInt8], closed: Bool) {
        let deadline = ContinuousClock.now + timeout
        var sent = 0
        var received: [UInt8] = []
        while sent < bytes.count, ContinuousClock.now < deadline {
            var entry = pollfd(fd: descriptor, events: Int16(POLLOUT | POLLIN), revents: 0)
            _ = withUnsafeMutablePointer(to: &entry) { pointer in
                #if canImport(Glibc)
                    Glibc.poll(pointer, 1, 100)
                #else
                    Darwin.poll(pointer, 1, 100)
                #endif
            }
            if entry.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                if readAvailable(into: &received) { return (received, true) }
            }
            if entry.revents & Int16(POLLOUT) != 0 {
                let count = bytes[sent...].withUnsafeBytes { buffer in
                    #if canImport(Glibc)
                        Glibc.send(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
                    #else
                        Darwin.send(descriptor, buffer.baseAddress, buffer.count, 0)
                    #endif
                }
                if count > 0 {
                    sent += count
                } else if count < 0, errno != EAGAIN, errno != EWOULDBLOCK {
                    _ = readAvailable(into: &received)
                    return (received, true)
                }
            }
        }
        return (received, false)
    }

    /// Reads what is there without waiting; answers whether the peer closed.
    private func readAvailable(into received: inout [UInt8]) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received += buffer[0..<count]
                continue
            }
            if count == 0 { return true }
            return errno != EAGAIN && errno != EWOULDBLOCK
        }
    }

    /// Reads until the peer closes the connection or `timeout` passes; answers what was read
    /// and whether the peer closed.
    func readUntilClosed(timeout: Duration) -> (received: [UInt8], closed: Bool) {
        let deadline = ContinuousClock.now + timeout
        var received: [UInt8] = []
        while ContinuousClock.now < deadline {
            if poll(events: Int16(POLLIN), timeout: .milliseconds(100)), readAvailable(into: &received) {
                return (received, true)
            }
        }
        return (received, false)
    }

    /// Whether the peer has closed the connection, found without waiting (what it sent
    /// before is read and dropped).
    var isClosedByPeer: Bool {
        var dropped: [UInt8] = []
        return poll(events: Int16(POLLIN), timeout: .zero) && readAvailable(into: &dropped)
    }
}

/// A raw connection that failed.
struct RawConnectionError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// An HTTP/1.1 answer read off a raw connection: the status and the body after the head.
struct RawAnswer {
    var status: Int
    var head: String
    var body: String

    init?(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return nil }
        head = String(text[..<split.lowerBound])
        body = String(text[split.upperBound...])
        let fields = head.split(separator: " ", maxSplits: 2)
        guard fields.count >= 2, let status = Int(fields[1]) else { return nil }
        self.status = status
    }
}

extension RawAnswer {
    /// Whether the whole answer was read: a `101` head, or as many body bytes as its
    /// `Content-Length` says.
    var isComplete: Bool {
        if status == 101 { return true }
        let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
        guard let length, let count = Int(length.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) else { return false }
        return body.utf8.count >= count
    }
}
