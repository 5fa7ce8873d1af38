import FerryCore
import FerryTestKit
import Synchronization
import Testing

/// Keeps the seqs it is handed, per reset.
private final class Collector: EventProcessor, Sendable {
    private let state = Mutex<(seqs: [Int64], resets: Int)>(([], 0))
    var seqs: [Int64] { state.withLock { $0.seqs } }
    var resets: Int { state.withLock { $0.resets } }

    func process(_ events: [StreamEvent], type: String) async throws {
        let seqs = try events.map { try $0.mutation().seq }
        state.withLock { $0.seqs += seqs }
    }

    func reset() async throws {
        state.withLock {
            $0.seqs = []
            $0.resets += 1
        }
    }
}

private func push(_ server: InMemoryTransport, _ entities: [String], from: Int64) async throws {
    let mutations = entities.enumerated().map { index, entity in
        MutationInput(
            clientActionID: from + Int64(index),
            entity: entity,
            entityKey: "k\(from + Int64(index))",
            op: .upsert,
            payload: .object([:])
        )
    }
    _ = try await server.push(PushRequest(space: "s", deviceID: "writer", sessionID: "one", mutations: mutations))
}

/// FerryTestKit's in-memory event stream: the server's stream and ack rules, no network.
@Suite struct InMemoryEventStreamTests {
    @Test func aPipelineFollowsTheServersPushesAndResetsWhenTheLogIsReplaced() async throws {
        let server = InMemoryTransport()
        try await push(server, ["note", "task", "note", "note"], from: 1)
        let stream = InMemoryEventStream(server: server, space: "s", deviceID: "index")
        let collector = Collector()
        let pipeline = EventPipeline(stream: stream, types: ["note"], configuration: EventPipelineConfiguration(batchSize: 2))
        let first = try await pipeline.run(processor: collector)
        #expect(collector.seqs == [1, 3, 4])
        #expect(first.totals == ["note": 3])
        #expect(first.completedThrough == 4)
        #expect(try await stream.checkpoints().map(\.description) == ["SyncComplete|4", "note|4"])

        try await push(server, ["note"], from: 5)
        #expect(try await pipeline.run(processor: collector).totals == ["note": 1])
        #expect(collector.seqs == [1, 3, 4, 5])

        // A replaced log: the next run starts over from nothing.
        server.wipe(space: "s")
        try await push(server, ["note", "note"], from: 1)
        let after = try await pipeline.run(processor: collector)
        #expect(after.resets == 1)
        #expect(collector.resets == 1)
        #expect(collector.seqs == [1, 2])
        #expect(try await stream.checkpoints().map(\.description) == ["SyncComplete|2", "note|2"])
    }

    @Test func badAcksAreRefusedAsTheServerRefusesThem() async throws {
        let server = InMemoryTransport()
        let stream = InMemoryEventStream(server: server, space: "s", deviceID: "index")
        do {
            try await stream.acknowledge(["note|1"])
            Issue.record("an ack above the head was accepted")
        } catch let error as SyncTransportError {
            #expect(error.status == 400)
            #expect(error.message.contains("above the head"))
        }
    }
}
