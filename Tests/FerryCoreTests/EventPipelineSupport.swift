import FerryCore
import Synchronization

/// What the fakes did, in order, as short strings: `open`, `process note n1,n2`, `flush`,
/// `ack note|1,note|2`, `reset`. Tests wait on it instead of sleeping.
final class CallLog: Sendable {
    private struct Watch {
        var condition: @Sendable ([String]) -> Bool
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var entries: [String] = []
        var watches: [Watch] = []
    }

    private let state = Mutex(State())

    var entries: [String] { state.withLock { $0.entries } }

    func append(_ entry: String) {
        let ready: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.entries.append(entry)
            let entries = state.entries
            var ready: [CheckedContinuation<Void, Never>] = []
            state.watches.removeAll { watch in
                guard watch.condition(entries) else { return false }
                ready.append(watch.continuation)
                return true
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// Returns once `condition` holds for the entries.
    func waitUntil(_ condition: @escaping @Sendable ([String]) -> Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if condition(state.entries) { return true }
                state.watches.append(Watch(condition: condition, continuation: continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// The acks of every `ack` entry, in order.
    var ackCalls: [[String]] {
        entries.filter { $0.hasPrefix("ack ") }.map { $0.dropFirst(4).split(separator: ",").map(String.init) }
    }
}

struct ScriptError: Error, Equatable, CustomStringConvertible {
    var what: String
    var description: String { what }
}

/// The lines of one scripted stream, then an end or an error.
struct ScriptedLines: AsyncSequence {
    typealias Element = [UInt8]

    var lines: [[UInt8]]
    var failure: ScriptError?

    struct AsyncIterator: AsyncIteratorProtocol {
        var lines: IndexingIterator<[[UInt8]]>
        var failure: ScriptError?

        mutating func next() async throws -> [UInt8]? {
            if let line = lines.next() { return line }
            if let failure {
                self.failure = nil
                throw failure
            }
            return nil
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(lines: lines.makeIterator(), failure: failure) }
}

/// One opening of a scripted stream.
struct Script: Sendable {
    var lines: [String]
    var failure: ScriptError?

    init(_ lines: [String], failure: ScriptError? = nil) {
        self.lines = lines
        self.failure = failure
    }
}

/// An event stream that plays scripts, one per `open` (the last one again when they run
/// out), and records acks. Acks can be held until the test releases them, and can fail.
final class ScriptedStream: EventStream {
    private struct State {
        var opens = 0
        var ackCalls = 0
        var held: [CheckedContinuation<Void, any Error>] = []
        var holding = false
    }

    let log: CallLog
    let scripts: [Script]
    /// The 1-based ack call that throws, if any.
    let failingAck: Int?
    private let state: Mutex<State>

    init(log: CallLog, _ scripts: [Script], failingAck: Int? = nil, holdAcks: Bool = false) {
        self.log = log
        self.scripts = scripts
        self.failingAck = failingAck
        self.state = Mutex(State(holding: holdAcks))
    }

    func open(types: [String]) async throws -> ScriptedLines {
        let index = state.withLock { state in
            state.opens += 1
            return min(state.opens, scripts.count) - 1
        }
        log.append("open")
        let script = scripts[index]
        return ScriptedLines(lines: script.lines.map { Array($0.utf8) }, failure: script.failure)
    }

    func acknowledge(_ acks: [String]) async throws {
        let call = state.withLock { state in
            state.ackCalls += 1
            return state.ackCalls
        }
        log.append("ack " + acks.joined(separator: ","))
        if state.withLock({ $0.holding }) {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    state.withLock { $0.held.append(continuation) }
                    log.append("held")
                }
            } onCancel: {
                let held = state.withLock { state in
                    defer { state.held.removeAll() }
                    return state.held
                }
                for continuation in held { continuation.resume(throwing: CancellationError()) }
            }
        }
        if call == failingAck { throw ScriptError(what: "ack \(call) refused") }
        log.append("acked")
    }

    /// Lets the held ack calls return.
    func release() {
        let held = state.withLock { state in
            defer { state.held.removeAll() }
            return state.held
        }
        for continuation in held { continuation.resume() }
    }

    /// Stops holding acks, and releases the held ones.
    func stopHolding() {
        state.withLock { $0.holding = false }
        release()
    }

    var opens: Int { state.withLock { $0.opens } }
}

/// A processor that records its calls; it can fail on one type.
struct RecordingProcessor: EventProcessor, Sendable {
    let log: CallLog
    var failOnType: String?

    init(log: CallLog, failOnType: String? = nil) {
        self.log = log
        self.failOnType = failOnType
    }

    func process(_ events: [StreamEvent], type: String) async throws {
        if type == failOnType {
            log.append("fail \(type)")
            throw ScriptError(what: "cannot process \(type)")
        }
        let keys = try events.map { try $0.mutation().entityKey }
        log.append("process \(type) " + keys.joined(separator: ","))
    }

    func flush() async throws { log.append("flush") }

    func reset() async throws { log.append("reset") }
}

/// Stream lines.
enum Line {
    /// An event of `type` for a mutation of seq `seq`, key `k<seq>`.
    static func event(_ type: String, _ seq: Int64) -> String {
        let data =
            #"{"seq":\#(seq),"device_id":"dev-b","session_id":"s","client_action_id":\#(seq),"entity":"\#(type)","#
            + #""entity_key":"k\#(seq)","op":"upsert","payload":{"n":\#(seq)},"occurred_at":"2026-11-22T10:00:00.000Z"}"#
        return #"{"type":"\#(type)","data":\#(data),"ack":"\#(type)|\#(seq)"}"#
    }

    static func complete(_ head: Int64) -> String {
        #"{"type":"SyncComplete","data":{"head_seq":\#(head)},"ack":"SyncComplete|\#(head)"}"#
    }

    static let reset = #"{"type":"SyncReset","data":{},"ack":"SyncReset|0"}"#

    /// Events of the given types, seqs from 1.
    static func events(_ types: [String]) -> [String] {
        types.enumerated().map { event($0.element, Int64($0.offset + 1)) }
    }
}
