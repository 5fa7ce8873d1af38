/// A source of typed events with server-kept checkpoints: `POST /sync/stream` and
/// `POST /sync/ack` of one (space, device), as ``EventPipeline`` consumes them.
///
/// `FerryHTTP`'s `HTTPEventStream` is the real one; `FerryTestKit` has an in-memory one.
public protocol EventStream: Sendable {
    /// The lines of one opened stream: each element is one raw NDJSON line, without its
    /// newline. The sequence ends after the server's last line, or throws when the stream
    /// fails; it is iterated from one task.
    associatedtype Lines: AsyncSequence where Lines.Element == [UInt8]

    /// Opens a stream of the events of `types` above their checkpoints, ending with a
    /// `SyncComplete` line (or holding one `SyncReset` line).
    func open(types: [String]) async throws -> Lines

    /// Acknowledges `acks` (`TYPE|SEQ` tokens) in order: the server moves each type's
    /// checkpoint to the highest seq acknowledged for it.
    func acknowledge(_ acks: [String]) async throws
}

/// What consumes the events of a stream for ``EventPipeline``: a search index, a derived
/// table, an export. It is called from one task at a time, in stream order.
public protocol EventProcessor {
    /// Processes `events`, a contiguous run of events of the stream, all of `type` (never
    /// `SyncComplete` or `SyncReset`). Throwing halts the pipeline: nothing from this chunk
    /// on is acknowledged, so it comes again in the next stream.
    func process(_ events: [StreamEvent], type: String) async throws

    /// Makes everything processed so far durable (writes a buffer out, commits, syncs a
    /// file). The pipeline calls it before sending any acknowledgement that covers the
    /// events processed since the last call. The default does nothing: use it when
    /// ``process(_:type:)`` is durable on return.
    func flush() async throws

    /// Drops everything derived from earlier events: the server has cleared the device's
    /// checkpoints (`SyncReset`) and the stream starts over from the first event.
    func reset() async throws
}

extension EventProcessor {
    /// Does nothing: ``process(_:type:)`` is durable on return.
    public func flush() async throws {}
}
