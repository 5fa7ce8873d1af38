import FerryCore
import FerryHTTP
import FerryServer
import FerryTestSupport
import Foundation
import Testing

/// HTTPEventStream and EventPipeline against the real server's stream routes.
@Suite(.timeLimit(.minutes(2))) struct HTTPEventStreamServerTests {
    /// Pushes `types.count` mutations, one per type in order, keys `k<client action id>`.
    private func push(_ types: [String], from firstID: Int64, to server: TestServer, token: String) async throws {
        let transport = server.transport(accessToken: token)
        try await using(transport) { transport in
            var id = firstID
            for start in stride(from: 0, to: types.count, by: 1000) {
                let mutations = types[start..<min(start + 1000, types.count)].map { type in
                    defer { id += 1 }
                    return MutationInput(
                        clientActionID: id,
                        entity: type,
                        entityKey: "k\(id)",
                        op: .upsert,
                        payload: .object(["n": .int(id)])
                    )
                }
                let response = try await transport.push(.make(space: "notes", Array(mutations)))
                #expect(response.accepted == mutations.count)
            }
        }
    }

    private func eventStream(_ server: TestServer, token: String, device: String) -> HTTPEventStream {
        HTTPEventStream(
            configuration: HTTPTransportConfiguration(baseURL: server.http.baseURL, accessToken: token),
            space: "notes",
            deviceID: device
        )
    }

    @Test func aPipelineFollowsTheServerFromItsCheckpointsAndGetsLaterPushesNextTime() async throws {
        try await TestServer.with { server in
            let token = try await server.token("notes")
            let types = (0..<2500).map { $0 % 10 < 6 ? "note" : "task" }
            try await push(types, from: 1, to: server, token: token)
            let stream = eventStream(server, token: token, device: "indexer")
            let other = eventStream(server, token: token, device: "exporter")
            let keys = KeyRecorder()
            let pipeline = EventPipeline(stream: stream, types: ["note", "task"])

            let first = try await pipeline.run(processor: keys)
            #expect(first.totals == ["note": 1500, "task": 1000])
            #expect(first.completedThrough == 2500)
            #expect(keys.keys == (1...2500).map { "k\($0)" })
            let checkpoints = try await stream.checkpoints()
            #expect(Set(checkpoints.map(\.description)) == ["note|2496", "task|2500", "SyncComplete|2500"])

            // Nothing new: only SyncComplete. Another device's checkpoints are its own.
            let second = try await pipeline.run(processor: KeyRecorder())
            #expect(second.totals == [:])
            #expect(second.completedThrough == 2500)
            #expect(try await other.checkpoints().isEmpty)

            // Pushes made since come in the next run, and only they.
            try await push(["task", "note", "task"], from: 2501, to: server, token: token)
            let later = KeyRecorder()
            let third = try await pipeline.run(processor: later)
            #expect(third.totals == ["note": 1, "task": 2])
            #expect(later.keys == ["k2501", "k2502", "k2503"])

            // A device that asks for one type gets that type only, from the start.
            let notes = KeyRecorder()
            let onlyNotes = try await EventPipeline(stream: other, types: ["note"]).run(processor: notes)
            #expect(onlyNotes.totals == ["note": 1501])
            #expect(onlyNotes.completedThrough == 2503)

            // Cleared checkpoints: everything again.
            try await stream.clearCheckpoints(types: ["task"])
            let again = try await pipeline.run(processor: KeyRecorder())
            #expect(again.totals == ["task": 1002])
            try await stream.shutdown()
            try await other.shutdown()
        }
    }

    @Test func aConsumerThatStopsHalfwayLosesNothing() async throws {
        try await TestServer.with { server in
            let token = try await server.token("notes")
            try await push(Array(repeating: "note", count: 1200), from: 1, to: server, token: token)
            let stream = eventStream(server, token: token, device: "dev")
            let failing = FailingAfter(limit: 500)
            let error = await #expect(throws: EventPipelineError.self) {
                try await EventPipeline(stream: stream, types: ["note"], configuration: EventPipelineConfiguration(batchSize: 100))
                    .run(processor: failing)
            }
            #expect(error?.kind == .processingFailed)
            #expect(error?.totals == ["note": 500])
            #expect(try await stream.checkpoints().map(\.description) == ["note|500"])

            let rest = KeyRecorder()
            let result = try await EventPipeline(stream: stream, types: ["note"]).run(processor: rest)
            #expect(result.totals == ["note": 700])
            #expect(rest.keys.first == "k501")
            #expect(rest.keys.last == "k1200")
            try await stream.shutdown()
        }
    }
}

/// Fails once it has been handed `limit` events.
final class FailingAfter: EventProcessor, @unchecked Sendable {
    let limit: Int
    private var seen = 0

    init(limit: Int) { self.limit = limit }

    func process(_ events: [StreamEvent], type: String) async throws {
        guard seen + events.count <= limit else { throw FerryError(.internal, "the processor gave up") }
        seen += events.count
    }

    func reset() async throws { seen = 0 }
}
