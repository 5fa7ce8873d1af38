import FerryCore
import FerryLog
import Synchronization

/// A stream consumer of a ``Simulation``: the real ``EventPipeline`` over the server's own
/// stream and acknowledgements, with acknowledgements lost on the way or on the way back, and
/// a processor that derives the records from the events and loses what it has not flushed
/// when it crashes.
final class SimulatedConsumer {
    let deviceID = "c-stream"
    let types: [String]
    let processor = ReplayProcessor()
    /// The floor of the log when the consumer last started over (`SyncReset`): its records
    /// are a replay of the events above it.
    var base: Int64 = 0
    /// The server's checkpoints after the last step.
    var lastCheckpoints: [String: Int64] = [:]

    init(types: [String]) {
        self.types = types
    }

    /// One run of the pipeline; with `faultSeed`, some acknowledgements are lost, and a
    /// failed run is a crash (what was not flushed is lost).
    func consume(network: SimulatedNetwork, space: String, faultSeed: UInt64?) async throws -> EventPipelineResult? {
        let stream = FaultyEventStream(
            base: InMemoryEventStream(server: network.server, space: space, deviceID: deviceID),
            faultSeed: faultSeed,
            faults: network
        )
        let pipeline = EventPipeline(
            stream: stream,
            types: types,
            configuration: EventPipelineConfiguration(batchSize: 3, acknowledgements: .sequential)
        )
        do {
            return try await pipeline.run(processor: processor)
        } catch  where faultSeed != nil {
            processor.crash()
            return nil
        }
    }
}

/// Derives each type's records from its events, as a search index would: idempotent by seq
/// (at-least-once delivery), durable only once flushed.
final class ReplayProcessor: EventProcessor {
    struct State {
        var records: [String: [String: [String: JSONValue]]] = [:]
        var through: [String: Int64] = [:]
    }

    private(set) var committed = State()
    private var staged = State()
    /// How many times the stream made it start over.
    private(set) var resets = 0

    func process(_ events: [StreamEvent], type: String) async throws {
        for event in events {
            let mutation = try event.mutation()
            guard mutation.seq > staged.through[type] ?? 0 else { continue }
            let before = staged.records[type]?[mutation.entityKey]
            staged.records[type, default: [:]][mutation.entityKey] = RecordMerge.apply(
                mutation.op,
                payload: mutation.payload?.objectValue,
                to: before
            )
            staged.through[type] = mutation.seq
        }
    }

    func flush() async throws {
        committed = staged
    }

    func reset() async throws {
        staged = State()
        committed = State()
        resets += 1
    }

    /// The process dies: what was not flushed is gone.
    func crash() {
        staged = committed
    }
}

/// An ``EventStream`` whose acknowledgements a seed loses: before they reach the server, or
/// after (the answer is lost). A pure function of the seed and the acks.
struct FaultyEventStream: EventStream {
    let base: InMemoryEventStream
    let faultSeed: UInt64?
    let faults: SimulatedNetwork

    func open(types: [String]) async throws -> InMemoryEventStream.Lines {
        try await base.open(types: types)
    }

    func acknowledge(_ acks: [String]) async throws {
        guard let seed = faultSeed else { return try await base.acknowledge(acks) }
        var generator = SeededGenerator(seed: acks.joined(separator: ",").utf8.reduce(seed) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 })
        let roll = generator.next()
        guard roll % 3 == 0 else { return try await base.acknowledge(acks) }
        faults.countFault()
        if roll & 8 == 0 { try await base.acknowledge(acks) }
        throw SyncTransportError(.transient, "simulated network: an acknowledgement or its answer was lost")
    }
}
