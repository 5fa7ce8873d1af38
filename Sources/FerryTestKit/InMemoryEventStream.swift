import FerryCore
import FerryLog

/// An ``FerryCore/EventStream`` of one device on an ``InMemoryTransport``'s server: the
/// server's own stream and ack rules (`POST /sync/stream`, `/sync/ack`) over its
/// ``FerryLog/MemoryEventLog``, reached without a network, for apps' tests of their
/// ``FerryCore/EventProcessor``s.
///
/// Pushes made through the transport are streamed; checkpoints are kept per device as the
/// server keeps them (max-wins per type, `SyncReset|0` clears), and
/// ``InMemoryTransport/wipe(space:)`` makes the next stream a `SyncReset`. Errors are thrown
/// as `HTTPEventStream` classifies the server's answers. Tokens are not checked.
public struct InMemoryEventStream: EventStream {
    private let endpoints: SyncEndpoints
    /// The space streamed.
    public let space: String
    /// The device whose checkpoints bound the stream.
    public let deviceID: String

    /// A stream of `deviceID` in `space` on `server`.
    public init(server: InMemoryTransport, space: String, deviceID: String) {
        self.endpoints = server.endpoints
        self.space = space
        self.deviceID = deviceID
    }

    public func open(types: [String]) async throws -> Lines {
        try await SyncTransportError.answering {
            Lines(pages: try await endpoints.openStream(StreamRequest(space: space, deviceID: deviceID, types: types)) { _ in })
        }
    }

    public func acknowledge(_ acks: [String]) async throws {
        _ = try await SyncTransportError.answering {
            try await endpoints.acknowledge(AckRequest(space: space, deviceID: deviceID, acks: acks)) { _ in }
        }
    }

    /// The device's checkpoints, as `GET /sync/ack` lists them (sorted by type).
    public func checkpoints() async throws -> [StreamAck] {
        try await SyncTransportError.answering { try await endpoints.checkpoints(space: space, deviceID: deviceID) { _ in } }
    }

    /// Clears the device's checkpoints, all or those of `types`, as `DELETE /sync/ack` does.
    public func clearCheckpoints(types: [String]? = nil) async throws {
        try await SyncTransportError.answering {
            try await endpoints.clearCheckpoints(space: space, deviceID: deviceID, types: types) { _ in }
        }
    }

    /// The lines of one opened stream, read from the log a page at a time as they are asked for.
    public struct Lines: AsyncSequence {
        let pages: StreamLines

        public func makeAsyncIterator() -> Iterator {
            Iterator(pages: pages.makeAsyncIterator())
        }

        /// Splits the server's pages into lines.
        public struct Iterator: AsyncIteratorProtocol {
            var pages: StreamLines.Iterator
            var page: [UInt8] = []
            var offset = 0

            public mutating func next() async throws -> [UInt8]? {
                while offset >= page.count {
                    guard let next = try await pages.next() else { return nil }
                    page = next.bytes
                    offset = 0
                }
                let end = page[offset...].firstIndex(of: UInt8(ascii: "\n")) ?? page.count
                let line = Array(page[offset..<end])
                offset = end + 1
                return line
            }
        }
    }
}

extension SyncTransportError {
    /// Runs a server call in memory, turning its error into the one the HTTP transports
    /// would throw for the server's answer.
    static func answering<T>(_ call: () async throws -> T) async throws -> T {
        do {
            return try await call()
        } catch let error as FerryError {
            var classified = SyncTransportError.classify(status: error.code.httpStatus, code: error.code, message: error.message)
            classified.floorSeq = error.floorSeq
            throw classified
        }
    }
}
