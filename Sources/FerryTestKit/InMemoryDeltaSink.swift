import FerryCore
import Synchronization

/// A ``FerryCore/DeltaSink`` in memory, with the same promises as the local store's: pages
/// are staged, and the run's end applies them with the tokens at once; a full sync sweeps
/// what it did not see. It records every call in ``log`` and can be told to fail, so that tests check the
/// order of writes and what a failure leaves behind.
public final class InMemoryDeltaSink: DeltaSink, Sendable {
    /// A call the sink received.
    public enum Call: Sendable, Hashable {
        /// ``tokens(stream:)``.
        case readTokens(stream: String)
        /// ``begin(stream:fullSync:)``.
        case begin(stream: String, fullSync: Bool)
        /// ``upsert(_:stream:)`` with these ids.
        case upsert(stream: String, ids: [String])
        /// ``delete(ids:stream:)``.
        case delete(stream: String, ids: [String])
        /// ``finish(stream:tokens:sweep:)``.
        case finish(stream: String, tokens: DeltaTokens, sweep: Bool)
    }

    private struct State {
        var records: [String: [String: DeltaRecord]] = [:]
        var tokens: [String: DeltaTokens] = [:]
        /// Per stream, by id: a record to write, or `nil` for a deletion.
        var staged: [String: [String: DeltaRecord?]] = [:]
        var log: [Call] = []
        var writes = 0
        var failWrite: Int?
    }

    private let state = Mutex(State())

    /// Creates an empty sink.
    public init() {}

    /// The records of `stream` by id.
    public func records(stream: String) -> [String: DeltaRecord] { state.withLock { $0.records[stream] ?? [:] } }

    /// The stored tokens of `stream`.
    public func storedTokens(stream: String) -> DeltaTokens? { state.withLock { $0.tokens[stream] } }

    /// Every call so far, in order.
    public var log: [Call] { state.withLock { $0.log } }

    /// Makes the `n`-th write from now (an upsert, delete or finish; 1 is the next) throw
    /// without changing anything, as a crash at that point would.
    public func failWrite(_ n: Int) {
        state.withLock { $0.failWrite = $0.writes + n }
    }

    /// Puts a record in place as if an earlier sync had written it.
    public func seed(_ record: DeltaRecord, stream: String) {
        state.withLock { $0.records[stream, default: [:]][record.id] = record }
    }

    private func write<T>(_ call: Call, _ change: (inout State) -> T) throws -> T {
        try state.withLock { state in
            state.writes += 1
            if state.failWrite == state.writes {
                state.failWrite = nil
                throw InMemoryDeltaSinkFailure(call: call)
            }
            state.log.append(call)
            return change(&state)
        }
    }

    public func tokens(stream: String) async throws -> DeltaTokens? {
        state.withLock { state in
            state.log.append(.readTokens(stream: stream))
            return state.tokens[stream]
        }
    }

    /// What the run in progress staged for `stream`, by id: a record, or `nil` for a deletion.
    public func staged(stream: String) -> [String: DeltaRecord?] { state.withLock { $0.staged[stream] ?? [:] } }

    public func begin(stream: String, fullSync: Bool) async throws {
        state.withLock { state in
            state.log.append(.begin(stream: stream, fullSync: fullSync))
            state.staged[stream] = [:]
        }
    }

    public func upsert(_ records: [DeltaRecord], stream: String) async throws {
        try write(.upsert(stream: stream, ids: records.map(\.id))) { state in
            for record in records { state.staged[stream, default: [:]][record.id] = .some(record) }
        }
    }

    public func delete(ids: [String], stream: String) async throws {
        try write(.delete(stream: stream, ids: ids)) { state in
            for id in ids { state.staged[stream, default: [:]][id] = .some(nil) }
        }
    }

    public func finish(stream: String, tokens: DeltaTokens, sweep: Bool) async throws -> Int {
        try write(.finish(stream: stream, tokens: tokens, sweep: sweep)) { state in
            let staged = state.staged[stream] ?? [:]
            var records = state.records[stream] ?? [:]
            for (id, record) in staged { records[id] = record }
            var swept = 0
            if sweep {
                for id in records.keys where staged[id] == nil {
                    records[id] = nil
                    swept += 1
                }
            }
            state.records[stream] = records
            state.staged[stream] = nil
            state.tokens[stream] = tokens
            return swept
        }
    }
}

/// The failure an ``InMemoryDeltaSink`` was told to produce.
public struct InMemoryDeltaSinkFailure: Error, Sendable, Hashable {
    /// The call that failed.
    public var call: InMemoryDeltaSink.Call
}
