import FerryCore
import Synchronization

/// A ``FerryCore/DeltaSource`` in memory, with real delta tokens: a sync resumed from a
/// token gets exactly what changed since, in pages of ``pageSize``. Tests change its records,
/// make it forget its tokens, answer `ready: false`, or fail a call, and read back every call
/// it received.
///
/// Tokens are opaque to callers; page tokens and delta tokens are distinct, and a page token
/// sent as a delta token (or the other way round) is refused with `bad_response`.
public final class InMemoryDeltaSource: DeltaSource, Sendable {
    /// A kind of call.
    public enum CallKind: Sendable, Hashable {
        /// ``start()``.
        case start
        /// ``updated(_:)``.
        case updated
        /// ``deleted(_:)``.
        case deleted
    }

    /// A call the source received.
    public enum Call: Sendable, Hashable {
        /// ``start()``.
        case start
        /// ``updated(_:)`` at this position.
        case updated(DeltaPosition)
        /// ``deleted(_:)`` at this position.
        case deleted(DeltaPosition)
    }

    private struct Fault {
        var kind: CallKind?
        var error: DeltaSourceError
        var skipping: Int
    }

    private struct State {
        var epoch = 1
        var version = 0
        var records: [String: (record: DeltaRecord, version: Int)] = [:]
        var tombstones: [String: Int] = [:]
        var notReadyStarts = 0
        var faults: [Fault] = []
        var calls: [Call] = []
    }

    /// The stream's name, given at creation.
    public let stream: String
    /// The most items a page holds.
    public let pageSize: Int
    private let state = Mutex(State())

    /// Creates an empty source.
    public init(stream: String = "memory", pageSize: Int = 100) {
        self.stream = stream
        self.pageSize = max(1, pageSize)
    }

    /// Creates or changes a record.
    public func put(_ record: DeltaRecord) {
        state.withLock { state in
            state.version += 1
            state.records[record.id] = (record, state.version)
            state.tombstones[record.id] = nil
        }
    }

    /// Creates or changes a record with this id and data.
    public func put(id: String, data: String, etag: String? = nil) {
        put(DeltaRecord(id: id, etag: etag, data: data))
    }

    /// Deletes a record; it shows in the deleted drain of syncs from before now.
    public func remove(id: String) {
        state.withLock { state in
            guard state.records.removeValue(forKey: id) != nil else { return }
            state.version += 1
            state.tombstones[id] = state.version
        }
    }

    /// The source's records now, by id.
    public var records: [String: DeltaRecord] { state.withLock { $0.records.mapValues(\.record) } }

    /// Makes every token handed out so far unknown (`token_invalid`), as a source does when
    /// its tokens expire or the collection was re-created; the change log is forgotten.
    public func forgetTokens() {
        state.withLock { state in
            state.epoch += 1
            state.tombstones = [:]
        }
    }

    /// The next `count` starts answer `ready: false`.
    public func answerNotReady(starts count: Int) {
        state.withLock { $0.notReadyStarts = count }
    }

    /// The next call of `kind` (of any kind when `nil`) throws `error`, or the one after
    /// `skipping` more such calls; faults queue up in order.
    public func fail(_ kind: CallKind? = nil, with error: DeltaSourceError, skipping: Int = 0) {
        state.withLock { $0.faults.append(Fault(kind: kind, error: error, skipping: skipping)) }
    }

    /// Every call so far, in order.
    public var calls: [Call] { state.withLock { $0.calls } }

    private func take(_ call: Call, _ kind: CallKind, _ state: inout State) throws {
        state.calls.append(call)
        if let index = state.faults.firstIndex(where: { $0.kind == nil || $0.kind == kind }) {
            guard state.faults[index].skipping == 0 else {
                state.faults[index].skipping -= 1
                return
            }
            throw state.faults.remove(at: index).error
        }
    }

    public func start() async throws -> DeltaStart {
        try state.withLock { state in
            try take(.start, .start, &state)
            if state.notReadyStarts > 0 {
                state.notReadyStarts -= 1
                return DeltaStart(tokens: DeltaTokens(single: ""), ready: false)
            }
            return DeltaStart(tokens: DeltaTokens(single: "d.\(state.epoch).0"), ready: true)
        }
    }

    public func updated(_ position: DeltaPosition) async throws -> DeltaPage<DeltaRecord> {
        try state.withLock { state in
            try take(.updated(position), .updated, &state)
            let window = try self.window(position, state)
            let changed = state.records.values
                .filter { $0.version > window.since && $0.version <= window.until && $0.record.id > window.after }
                .map(\.record)
                .sorted { $0.id < $1.id }
            return page(Array(changed.prefix(pageSize)), more: changed.count > pageSize, window: window) { $0.id }
        }
    }

    public func deleted(_ position: DeltaPosition) async throws -> DeltaPage<String> {
        try state.withLock { state in
            try take(.deleted(position), .deleted, &state)
            let window = try self.window(position, state)
            let gone = state.tombstones
                .filter { $0.value > window.since && $0.value <= window.until && $0.key > window.after }
                .map(\.key)
                .sorted()
            return page(Array(gone.prefix(pageSize)), more: gone.count > pageSize, window: window) { $0 }
        }
    }

    /// The versions a drain covers, and the last id already handed out.
    private struct Window {
        var epoch: Int
        var since: Int
        var until: Int
        var after: String
    }

    private func window(_ position: DeltaPosition, _ state: State) throws -> Window {
        switch position {
        case .delta(let token):
            let parts = token.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == "d", let epoch = Int(parts[1]), let since = Int(parts[2]) else {
                throw DeltaSourceError(.badResponse, "not a delta token: '\(token)'", status: 400)
            }
            guard epoch == state.epoch else { throw DeltaSourceError(.tokenInvalid, "the delta token has expired", status: 410) }
            return Window(epoch: epoch, since: since, until: state.version, after: "")
        case .page(let token):
            let parts = token.split(separator: ".", maxSplits: 4, omittingEmptySubsequences: false)
            guard parts.count == 5, parts[0] == "p", let epoch = Int(parts[1]), let since = Int(parts[2]), let until = Int(parts[3])
            else {
                throw DeltaSourceError(.badResponse, "not a page token: '\(token)'", status: 400)
            }
            guard epoch == state.epoch else { throw DeltaSourceError(.tokenInvalid, "the page token has expired", status: 410) }
            return Window(epoch: epoch, since: since, until: until, after: String(parts[4]))
        }
    }

    private func page<Item>(_ items: [Item], more: Bool, window: Window, id: (Item) -> String) -> DeltaPage<Item> {
        if more, let last = items.last {
            return DeltaPage(items: items, next: .page("p.\(window.epoch).\(window.since).\(window.until).\(id(last))"))
        }
        return DeltaPage(items: items, next: .done(nextDeltaToken: "d.\(window.epoch).\(window.until)"))
    }
}
