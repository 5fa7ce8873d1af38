import AsyncHTTPClient
import FerryCore
import FerryHTTP
import FerryTestSupport
import Foundation
import Synchronization
import Testing

/// The stores a `ferry serve` child can run on in these tests.
enum ChildStore: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, memory, postgres

    var testDescription: String { rawValue }

    /// Every store: PostgreSQL when `scripts/test` started one.
    static var available: [ChildStore] { PostgresTestServer.adminURL == nil ? [.sqlite, .memory] : allCases }
}

/// Runs `body` with a `ferry serve` child on `store` and a token for space `events`.
private func withServer(_ store: ChildStore, _ body: (ServerProcess, String) async throws -> Void) async throws {
    let folder = try TemporaryFolder()
    func run(_ serve: [String], _ tokenArguments: [String]) async throws {
        let created = try ferry(["token", "create", "--space", "events", "--json"] + tokenArguments)
        guard created.status == 0 else { throw ProcessError(message: "token create: \(created.output)") }
        let token = try JSONDecoder().decode(TokenPair.self, from: Data(created.output.utf8)).accessToken
        // Healthy first: a PostgreSQL server migrates its schema after it starts listening.
        let server = try await ServerProcess(arguments: serve, waitUntilHealthy: true)
        do {
            try await body(server, token)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
    switch store {
    case .sqlite:
        try await run(["--data", folder.path("data"), "--durability", "normal"], ["--data", folder.path("data")])
    case .memory:
        try await run(["--memory", "--data", folder.path("data")], ["--data", folder.path("data")])
    case .postgres:
        try await PostgresTestServer.withDatabase { url in try await run(["--postgres", url], ["--postgres", url]) }
    }
}

/// Pushes `count` mutations to space `events` as device `writer`, in pushes of 1000; entity
/// `types[i % types.count]` for the i-th (seq i + 1 on an empty log).
private func fill(_ transport: HTTPTransport, count: Int, types: [String], start: Int = 0, device: String = "writer") async throws {
    for from in stride(from: start, to: start + count, by: 1000) {
        let mutations = (from..<min(from + 1000, start + count)).map { index in
            MutationInput(
                clientActionID: Int64(index + 1),
                entity: types[index % types.count],
                entityKey: "k\(index)",
                op: .upsert,
                payload: .object(["n": .int(Int64(index)), "text": .string("event \(index)")])
            )
        }
        let answer = try await transport.push(PushRequest(space: "events", deviceID: device, sessionID: "s", mutations: mutations))
        #expect(answer.accepted == mutations.count)
    }
}

/// Records what the pipeline hands it, checking the order as it goes.
private final class RecordingProcessor: EventProcessor, Sendable {
    private let state = Mutex<(seqs: [Int64], types: [String: Int], resets: Int)>(([], [:], 0))

    var seqs: [Int64] { state.withLock { $0.seqs } }
    var resets: Int { state.withLock { $0.resets } }

    func process(_ events: [StreamEvent], type: String) async throws {
        let seqs = try events.map { event in
            #expect(event.type == type)
            return try event.mutation().seq
        }
        state.withLock {
            $0.seqs += seqs
            $0.types[type, default: 0] += seqs.count
        }
    }

    func reset() async throws {
        state.withLock {
            $0.seqs = []
            $0.resets += 1
        }
    }
}

/// Runs `body` with event streams of `devices` on `server`, shut down afterwards whatever
/// happens (an HTTP client released unshut stops the process).
private func withEventStreams(
    _ server: ServerProcess,
    token: String,
    devices: [String],
    _ body: ([HTTPEventStream]) async throws -> Void
) async throws {
    let streams = devices.map { device in
        HTTPEventStream(
            configuration: HTTPTransportConfiguration(baseURL: server.baseURL, accessToken: token),
            space: "events",
            deviceID: device
        )
    }
    let result: Result<Void, any Error>
    do {
        result = .success(try await body(streams))
    } catch {
        result = .failure(error)
    }
    for stream in streams { try await stream.shutdown() }
    try result.get()
}

/// Runs `body` with a transport to `server`, shut down afterwards whatever happens.
private func withTransport(_ server: ServerProcess, token: String, _ body: (HTTPTransport) async throws -> Void) async throws {
    let transport = HTTPTransport(
        configuration: HTTPTransportConfiguration(baseURL: server.baseURL, accessToken: token, requestTimeout: .seconds(60))
    )
    let result: Result<Void, any Error>
    do {
        result = .success(try await body(transport))
    } catch {
        result = .failure(error)
    }
    try await transport.shutdown()
    try result.get()
}

/// The event stream end to end: `ferry serve` on each store, `HTTPEventStream` and
/// `EventPipeline` in this process, `ferry stream` as a child.
@Suite(.serialized, .tags(.realTime)) struct StreamIntegrationTests {
    @Test(.serialized, arguments: ChildStore.available)
    func aLongStreamArrivesCompleteAndInOrderAndDevicesKeepTheirOwnCheckpoints(store: ChildStore) async throws {
        try await withServer(store) { server, token in
            let count = 20_000
            try await withTransport(server, token: token) { writer in
                try await fill(writer, count: count, types: ["note", "task", "tag"])
            }
            try await withEventStreams(server, token: token, devices: ["reader-a", "reader-b"]) { streams in
                let (stream, other) = (streams[0], streams[1])
                let processor = RecordingProcessor()
                let result = try await EventPipeline(stream: stream, types: ["note", "task"]).run(processor: processor)
                let expected = (1...Int64(count)).filter { ($0 - 1) % 3 != 2 }
                #expect(processor.seqs == expected)
                #expect(result.totals == ["note": (count + 2) / 3, "task": (count + 1) / 3])
                #expect(result.completedThrough == Int64(count))
                let lastNote = expected.last { ($0 - 1) % 3 == 0 } ?? 0
                let lastTask = expected.last { ($0 - 1) % 3 == 1 } ?? 0
                #expect(
                    try await stream.checkpoints().map(\.description) == ["SyncComplete|\(count)", "note|\(lastNote)", "task|\(lastTask)"]
                )

                // Nothing new for this device; everything for another one.
                let again = RecordingProcessor()
                #expect(try await EventPipeline(stream: stream, types: ["note", "task"]).run(processor: again).total == 0)
                let tags = RecordingProcessor()
                let tagResult = try await EventPipeline(stream: other, types: ["tag"]).run(processor: tags)
                #expect(tags.seqs == (1...Int64(count)).filter { ($0 - 1) % 3 == 2 })
                #expect(tagResult.totals == ["tag": count / 3])
                #expect(try await other.checkpoints().map(\.description) == ["SyncComplete|\(count)", "tag|\(count / 3 * 3)"])
            }
        }
    }

    @Test func pushesMadeDuringAStreamComeInTheNextOne() async throws {
        try await withServer(.sqlite) { server, token in
            try await withTransport(server, token: token) { writer in
                try await withEventStreams(server, token: token, devices: ["reader"]) { streams in
                    let stream = streams[0]
                    try await fill(writer, count: 3000, types: ["note"])
                    var lines = try await stream.open(types: ["note"]).makeAsyncIterator()
                    let first = try #require(try await lines.next())
                    #expect(try StreamEvent(line: first).ack == "note|1")
                    try await fill(writer, count: 10, types: ["note"], start: 3000)
                    var last: StreamEvent?
                    var received = 1
                    while let line = try await lines.next() {
                        last = try StreamEvent(line: line)
                        if last?.isComplete == false { received += 1 }
                    }
                    #expect(received == 3000)
                    #expect(last?.ack == "SyncComplete|3000")
                    let processor = RecordingProcessor()
                    try await stream.acknowledge(["note|3000", "SyncComplete|3000"])
                    _ = try await EventPipeline(stream: stream, types: ["note"]).run(processor: processor)
                    #expect(processor.seqs == Array(3001...3010))
                }
            }
        }
    }

    /// `ferry stream --out` killed with SIGKILL mid-stream, then run again: every event ends
    /// up in the file at least once, the file holds every event the server had acknowledged
    /// when it was killed, and the checkpoint never moved back.
    @Test func aConsumerKilledMidStreamLosesNothing() async throws {
        try await withServer(.sqlite) { server, token in
            let count = 60_000
            try await withTransport(server, token: token) { writer in
                try await fill(writer, count: count, types: ["note"])
            }
            let folder = try TemporaryFolder()
            let out = folder.path("events.ndjson")
            let arguments = [
                "stream", "--server", server.baseURL, "--space", "events", "--device", "exporter", "--types", "note",
                "--token", token, "--out", out,
            ]
            try await withEventStreams(server, token: token, devices: ["exporter"]) { streams in
                let checker = streams[0]
                func checkpoint() async throws -> Int64 {
                    try await checker.checkpoints().first { $0.type == "note" }?.seq ?? 0
                }

                let process = Process()
                process.executableURL = URL(fileURLWithPath: ServerProcess.executable)
                process.arguments = arguments
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                var seen: [Int64] = []
                let deadline = ContinuousClock.now + .seconds(60)
                while ContinuousClock.now < deadline {
                    let now = try await checkpoint()
                    seen.append(now)
                    if now >= 5_000 { break }
                    try await Task.sleep(for: .milliseconds(5))
                }
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                #expect(process.terminationReason == .uncaughtSignal)
                let atKill = try await checkpoint()
                #expect(atKill < Int64(count), "the stream ended before it was killed: the test proves nothing")
                #expect(seen == seen.sorted(), "a checkpoint moved back")

                // Durable before acknowledged: every event up to the checkpoint is in the file.
                let seqsAfterKill = try fileSeqs(out)
                #expect(Set(seqsAfterKill).isSuperset(of: 1...atKill))

                let rerun = try ferry(arguments)
                #expect(rerun.status == 0, "\(rerun.output)")
                let all = try fileSeqs(out)
                #expect(Set(all) == Set(1...Int64(count)))
                #expect(all.count >= count)
                #expect(try await checkpoint() == Int64(count))
            }
        }
    }
}

/// The seqs of the events in an NDJSON file written by `ferry stream`, in file order.
private func fileSeqs(_ path: String) throws -> [Int64] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try data.split(separator: UInt8(ascii: "\n")).compactMap { line in
        let event = try StreamEvent(line: Array(line))
        return event.isComplete ? nil : try event.mutation().seq
    }
}
