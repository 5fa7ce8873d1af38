import FerryCore
import FerryHTTP
import Foundation
import Hummingbird
import NIOCore
import Synchronization
import Testing

/// Buffers handed out one by one, as a response body delivers them.
struct Buffers: AsyncSequence {
    typealias Element = ByteBuffer
    var buffers: [ByteBuffer]

    struct AsyncIterator: AsyncIteratorProtocol {
        var inner: IndexingIterator<[ByteBuffer]>
        mutating func next() async throws -> ByteBuffer? { inner.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(inner: buffers.makeIterator()) }

    init(_ parts: [String]) { buffers = parts.map { ByteBuffer(string: $0) } }
}

@Suite struct NDJSONLinesTests {
    private func lines(_ parts: [String], max: Int = 1 << 20) async throws -> [String] {
        var out: [String] = []
        for try await line in NDJSONLines(Buffers(parts), maxLineBytes: max) {
            out.append(String(decoding: line, as: UTF8.self))
        }
        return out
    }

    @Test func linesSplitAcrossBuffersAreJoined() async throws {
        #expect(try await lines(["{\"a\":1}\n{\"b\"", ":2}", "\n{\"c\":3}\n"]) == [#"{"a":1}"#, #"{"b":2}"#, #"{"c":3}"#])
        #expect(try await lines(["ab", "cd", "ef\ngh", "\n"]) == ["abcdef", "gh"])
    }

    @Test func crlfEmptyLinesAndALastLineWithoutNewline() async throws {
        #expect(try await lines(["one\r\ntwo\r", "\n\n\nthree"]) == ["one", "two", "three"])
        #expect(try await lines(["x\n", "", "y\r"]) == ["x", "y"])
        #expect(try await lines([]) == [])
        #expect(try await lines(["\n\n"]) == [])
    }

    @Test func aLineLongerThanTheMaximumIsAnErrorNotAGrowingBuffer() async throws {
        #expect(try await lines(["12345678\n"], max: 8) == ["12345678"])
        for parts in [["123456789\n"], ["12345", "6789\n"], ["12345", "6789", "0123"]] {
            await #expect {
                _ = try await lines(parts, max: 8)
            } throws: { error in
                (error as? SyncTransportError)?.kind == .permanent && "\(error)".contains("longer than 8 bytes")
            }
        }
    }
}

@Suite(.timeLimit(.minutes(2))) struct HTTPEventStreamTests {
    static func events(_ count: Int, type: String = "note") -> [String] {
        (1...count).map { seq in
            let data =
                #"{"seq":\#(seq),"device_id":"dev-b","session_id":"s","client_action_id":\#(seq),"entity":"\#(type)","#
                + #""entity_key":"k\#(seq)","op":"upsert","payload":{"n":\#(seq)},"occurred_at":"2026-11-22T10:00:00.000Z"}"#
            return #"{"type":"\#(type)","data":\#(data),"ack":"\#(type)|\#(seq)"}"#
        }
    }

    static func complete(_ head: Int) -> String {
        #"{"type":"SyncComplete","data":{"head_seq":\#(head)},"ack":"SyncComplete|\#(head)"}"#
    }

    private func stream(
        _ baseURL: String,
        token: String = "good",
        refresh: String? = nil,
        space: String = "notes",
        device: String = "dev-a"
    )
        -> HTTPEventStream
    {
        HTTPEventStream(
            configuration: HTTPTransportConfiguration(baseURL: baseURL, accessToken: token, refreshToken: refresh),
            space: space,
            deviceID: device
        )
    }

    @discardableResult
    private func using<T: Sendable>(_ stream: HTTPEventStream, _ body: (HTTPEventStream) async throws -> T) async throws -> T {
        let result: Result<T, any Error>
        do {
            result = .success(try await body(stream))
        } catch {
            result = .failure(error)
        }
        try await stream.shutdown()
        return try result.get()
    }

    @Test func aPipelineOverHTTPReadsEveryEventInOrderAndAcknowledgesIt() async throws {
        let lines = Self.events(250) + [Self.complete(260)]
        let stub = StubStreamServer { writer in
            // Buffers that cut lines anywhere.
            let text = lines.map { $0 + "\n" }.joined()
            var rest = Substring(text)
            while !rest.isEmpty {
                let part = rest.prefix(777)
                rest = rest.dropFirst(part.count)
                try await writer.write(ByteBuffer(string: String(part)))
            }
        }
        try await stub.run { baseURL in
            try await using(stream(baseURL)) { stream in
                let keys = KeyRecorder()
                let pipeline = EventPipeline(
                    stream: stream,
                    types: ["note", "task"],
                    configuration: EventPipelineConfiguration(batchSize: 100, acknowledgements: .sequential)
                )
                let result = try await pipeline.run(processor: keys)
                #expect(result.totals == ["note": 250])
                #expect(result.completedThrough == 260)
                #expect(keys.keys == (1...250).map { "k\($0)" })
            }
        }
        let open = try #require(stub.received.first)
        #expect(open.path == "/sync/stream")
        #expect(open.authorization == "Bearer good")
        #expect(open.accept == "application/x-ndjson")
        let body = try JSONSerialization.jsonObject(with: Data(open.body.utf8)) as? [String: Any]
        #expect(body?["space"] as? String == "notes")
        #expect(body?["device_id"] as? String == "dev-a")
        #expect(body?["types"] as? [String] == ["note", "task"])
        // One compacted request per chunk, then the SyncComplete ack.
        #expect(stub.ackRequests == [["note|100"], ["note|200"], ["note|250"], ["SyncComplete|260"]])
        #expect(stub.streamEnded == ["finished"])
    }

    @Test func acknowledgementsAreCompactedAndSplitIntoRequestsOfAtMostAThousand() async throws {
        #expect(
            try HTTPEventStream.compact(["note|1", "task|2", "note|3", "SyncReset|0", "note|2", "SyncComplete|9"]).map(\.description)
                == ["SyncReset|0", "note|3", "task|2", "SyncComplete|9"]
        )
        let stub = StubStreamServer { _ in }
        try await stub.run { baseURL in
            try await using(stream(baseURL)) { stream in
                try await stream.acknowledge((0..<2500).map { "t\($0)|\($0 + 1)" } + ["t0|7"])
                try await stream.acknowledge([])
                await #expect {
                    try await stream.acknowledge(["note|1", "note|01"])
                } throws: { error in
                    (error as? SyncTransportError)?.kind == .permanent && "\(error)".contains("note|01")
                }
            }
        }
        let requests = stub.ackRequests
        #expect(requests.map(\.count) == [1000, 1000, 500])
        #expect(requests.first?.first == "t0|7")
        #expect(requests.last?.last == "t2499|2500")
    }

    @Test func aRefusedTokenIsRefreshedOnceAndTheStreamOpened() async throws {
        let stub = StubStreamServer { writer in try await writer.write(ByteBuffer(lines: [Self.complete(0)])) }
        try await stub.run { baseURL in
            try await using(stream(baseURL, token: "stale", refresh: "r0")) { stream in
                var lines: [String] = []
                for try await line in try await stream.open(types: ["note"]) { lines.append(String(decoding: line, as: UTF8.self)) }
                #expect(lines == [Self.complete(0)])
                try await stream.acknowledge(["SyncComplete|1"])
            }
        }
        #expect(stub.refreshes == 1)
        #expect(stub.received.map(\.path) == ["/sync/stream", "/auth/refresh", "/sync/stream", "/sync/ack"])
        #expect(stub.received.last?.authorization == "Bearer fresh1")
    }

    @Test func errorAnswersAreClassifiedAsTheTransportDoes() async throws {
        let stub = StubStreamServer(refusesAcks: true) { _ in }
        try await stub.run { baseURL in
            try await using(stream(baseURL, space: "other")) { stream in
                await #expect {
                    _ = try await stream.open(types: ["note"])
                } throws: { error in
                    let error = error as? SyncTransportError
                    return error?.kind == .policyForbidden && error?.status == 403
                        && error?.message.contains("outside the token's scope") == true
                }
                await #expect {
                    try await stream.acknowledge(["note|1"])
                } throws: { error in
                    let error = error as? SyncTransportError
                    return error?.kind == .permanent && error?.code == .badRequest && error?.message.contains("is not valid") == true
                }
            }
            try await using(stream(baseURL, token: "stale")) { stream in
                await #expect {
                    _ = try await stream.checkpoints()
                } throws: { error in
                    (error as? SyncTransportError)?.kind == .authRequired
                }
            }
        }
    }

    @Test func checkpointsAreReadAndClearedWithEncodedQueries() async throws {
        let stub = StubStreamServer { _ in }
        try await stub.run { baseURL in
            try await using(stream(baseURL, device: "dev a/1&x")) { stream in
                let checkpoints = try await stream.checkpoints()
                #expect(checkpoints.map(\.description) == ["note|3", "SyncComplete|5"])
                try await stream.clearCheckpoints(types: ["note", "task"])
                try await stream.clearCheckpoints()
            }
        }
        let received = stub.received
        #expect(received.map(\.method) == ["GET", "DELETE", "DELETE"])
        #expect(received.allSatisfy { $0.path == "/sync/ack" })
        #expect(received[0].query == "space=notes&device_id=dev%20a%2F1%26x")
        #expect(received[1].query == "space=notes&device_id=dev%20a%2F1%26x&types=note,task")
        #expect(received[2].query == "space=notes&device_id=dev%20a%2F1%26x")
    }

    @Test func cancellingTheConsumerOfAnEndlessStreamClosesTheConnection() async throws {
        let page = ByteBuffer(lines: Array(repeating: Self.events(1)[0], count: 100))
        let stub = StubStreamServer { writer in
            while true { try await writer.write(page) }
        }
        try await stub.run { baseURL in
            try await using(stream(baseURL)) { stream in
                let (reading, reached) = AsyncStream.makeStream(of: Void.self)
                let consumer = Task {
                    var count = 0
                    for try await _ in try await stream.open(types: ["note"]) {
                        count += 1
                        if count == 20_000 { reached.yield() }
                    }
                    return count
                }
                var iterator = reading.makeAsyncIterator()
                await iterator.next()
                consumer.cancel()
                let outcome = await consumer.result
                #expect(throws: (any Error).self) { try outcome.get() }
                // The server's body writer fails: the connection is closed.
                await stub.waitUntilAStreamEnded()
            }
        }
        #expect(stub.streamEnded.count == 1)
        #expect(stub.streamEnded.first?.hasPrefix("failed") == true)
    }
}

/// Records the entity keys of the events it processes.
final class KeyRecorder: EventProcessor, Sendable {
    private let recorded = Mutex<[String]>([])
    var keys: [String] { recorded.withLock { $0 } }

    func process(_ events: [StreamEvent], type: String) async throws {
        let keys = try events.map { try $0.mutation().entityKey }
        recorded.withLock { $0.append(contentsOf: keys) }
    }

    func reset() async throws { recorded.withLock { $0.removeAll() } }
}
