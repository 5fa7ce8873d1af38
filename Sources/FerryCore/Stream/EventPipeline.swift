import Synchronization

/// Follows an ``EventStream``: reads its lines, checks each one, batches the events, splits
/// each batch into contiguous runs of one type, hands each run to an ``EventProcessor`` and
/// acknowledges it, strictly in stream order, halting at the first failure with nothing
/// after it acknowledged.
///
/// One run:
/// 1. Opens the stream for ``types``.
/// 2. Reads each line as a ``StreamEvent``. A line that is not a valid event ends the run
///    after everything before it is processed and acknowledged
///    (``EventPipelineConfiguration/InvalidEventPolicy/fail``, the default), or is skipped
///    and reported (``EventPipelineConfiguration/InvalidEventPolicy/skip``).
/// 3. Collects events into batches of ``EventPipelineConfiguration/batchSize``; a full
///    batch is split into runs of consecutive events of one type (a run never spans two
///    batches), and each run is processed, then acknowledged, in order.
/// 4. On `SyncComplete`: processes and acknowledges what is batched, acknowledges the
///    `SyncComplete` token itself (a checkpoint of its own on the server), waits for every
///    acknowledgement, and returns, with ``EventPipelineResult/completedThrough`` set.
/// 5. On `SyncReset`: waits for the acknowledgement in flight, drops the events read but not
///    acknowledged, calls ``EventProcessor/reset()``, then ``EventProcessor/flush()``,
///    acknowledges `SyncReset|0` in a request of its own (the server applies a reset before
///    the other acks of a request, so it never shares one), and opens the stream again.
/// 6. When the stream ends without `SyncComplete` or fails, processes and acknowledges what
///    arrived (it is valid and in order), then throws.
///
/// ``EventProcessor/flush()`` is called before every acknowledgement request that follows a
/// `process` or `reset` call, so nothing is acknowledged before the processor made it
/// durable. With ``EventPipelineConfiguration/AcknowledgementMode/pipelined`` (the default)
/// one request is in flight while the next chunks are processed; their acks are sent
/// together, in order, once it has returned (see the mode). The processor is only ever
/// called from the task that calls ``run(processor:onProgress:)``.
///
/// Delivery is at least once: a chunk processed but not acknowledged (the run failed or was
/// cancelled, the consumer crashed) comes again in the next stream.
///
/// Cancelling the calling task stops the run before the next chunk: nothing is
/// acknowledged that was not processed, and the run throws `CancellationError`.
public struct EventPipeline<Stream: EventStream>: Sendable {
    /// Where events come from and acknowledgements go.
    public let stream: Stream
    /// The event types requested.
    public let types: [String]
    /// Batching, acknowledgement mode and policies.
    public let configuration: EventPipelineConfiguration

    /// Creates a pipeline; opens nothing until ``run(processor:onProgress:)``.
    public init(stream: Stream, types: [String], configuration: EventPipelineConfiguration = EventPipelineConfiguration()) {
        self.stream = stream
        self.types = types
        self.configuration = configuration
    }

    /// Runs the pipeline until a `SyncComplete` line, and answers what it processed and
    /// acknowledged.
    ///
    /// - Parameters:
    ///   - processor: Receives the chunks; called from this task only.
    ///   - onProgress: Called on this task after each chunk is processed and after each
    ///     acknowledgement returns (many times a second on a fast stream: keep it cheap).
    /// - Throws: ``EventPipelineError`` carrying the totals acknowledged before the failure;
    ///   `CancellationError` when the calling task is cancelled.
    public func run(
        processor: some EventProcessor,
        onProgress: (@Sendable (EventPipelineProgress) -> Void)? = nil
    ) async throws -> EventPipelineResult {
        var state = Run(stream: stream, processor: processor, configuration: configuration, onProgress: onProgress)
        let types = self.types
        return try await withThrowingTaskGroup(of: Void.self) { group in
            try await state.run(types: types, group: &group)
        }
    }
}

/// Set by an acknowledgement request when it has returned, read by the pipeline's task
/// between chunks without waiting.
private final class AckSignal: Sendable {
    let done = Atomic<Bool>(false)
}

/// One run's state: the processor, the totals, and the acknowledgements not yet returned.
private struct Run<Stream: EventStream, Processor: EventProcessor> {
    /// An acknowledgement request sent and not yet awaited.
    struct InFlight {
        var signal: AckSignal
        var counts: [(type: String, count: Int)]
    }

    /// How a stream's reading ended, when it did not fail.
    enum Outcome {
        case completed(headSeq: Int64)
        case reset
    }

    let stream: Stream
    let processor: Processor
    let configuration: EventPipelineConfiguration
    let onProgress: (@Sendable (EventPipelineProgress) -> Void)?

    var result = EventPipelineResult()
    var processed = 0
    var acknowledged = 0
    /// Whether `process` or `reset` was called since the last `flush`.
    var unflushed = false
    /// Acks of processed chunks not sent yet (pipelined mode), in stream order.
    var pending: [String] = []
    var pendingCounts: [(type: String, count: Int)] = []
    var inFlight: InFlight?

    init(
        stream: Stream,
        processor: Processor,
        configuration: EventPipelineConfiguration,
        onProgress: (@Sendable (EventPipelineProgress) -> Void)?
    ) {
        self.stream = stream
        self.processor = processor
        self.configuration = configuration
        self.onProgress = onProgress
    }

    mutating func run(types: [String], group: inout ThrowingTaskGroup<Void, any Error>) async throws -> EventPipelineResult {
        while true {
            let lines: Stream.Lines
            do {
                lines = try await stream.open(types: types)
            } catch {
                if Task.isCancelled || error is CancellationError { throw CancellationError() }
                throw failure(.streamFailed, "the stream could not be opened: \(error)", underlying: error)
            }
            switch try await read(lines, group: &group) {
            case .completed(let head):
                result.completedThrough = head
                return result
            case .reset:
                continue
            }
        }
    }

    /// Reads one opened stream to its end.
    mutating func read(_ lines: Stream.Lines, group: inout ThrowingTaskGroup<Void, any Error>) async throws -> Outcome {
        var batch: [StreamEvent] = []
        batch.reserveCapacity(configuration.batchSize)
        var position = 0
        do {
            for try await line in lines {
                position += 1
                let event: StreamEvent
                do {
                    event = try StreamEvent(line: line)
                } catch {
                    let excerpt = Self.excerpt(line)
                    switch configuration.invalidEvents {
                    case .skip:
                        result.skippedCount += 1
                        if result.skipped.count < configuration.maxSkippedListed {
                            result.skipped.append(.init(position: position, reason: error.reason, excerpt: excerpt))
                        }
                        continue
                    case .fail:
                        try await processBatch(&batch, group: &group)
                        try await drainAcknowledgements(group: &group)
                        throw EventPipelineError(
                            .invalidEvent,
                            "line \(position) of the stream is not a valid event: \(error.reason) (\(excerpt)); "
                                + "everything before it was processed and acknowledged",
                            result: result,
                            position: position,
                            reason: error.reason,
                            excerpt: excerpt
                        )
                    }
                }
                if event.isComplete {
                    try await processBatch(&batch, group: &group)
                    if event.acknowledgement != .completeOfEmptyLog {
                        try await acknowledge([event.ack], counts: [], group: &group)
                    }
                    try await drainAcknowledgements(group: &group)
                    return .completed(headSeq: event.headSeq() ?? 0)  // checked when the line was read
                }
                if event.isReset {
                    try await startOver(group: &group)
                    return .reset
                }
                batch.append(event)
                if batch.count >= configuration.batchSize {
                    try await processBatch(&batch, group: &group)
                }
            }
        } catch let error as EventPipelineError {
            throw error
        } catch {
            // The stream itself failed (the processor's and the acknowledgements' errors are
            // EventPipelineErrors by now).
            if Task.isCancelled || error is CancellationError { throw CancellationError() }
            try await processBatch(&batch, group: &group)
            try await drainAcknowledgements(group: &group)
            throw failure(
                .streamFailed,
                "the stream failed after \(position) lines: \(error); the events before were processed and acknowledged",
                underlying: error
            )
        }
        try await processBatch(&batch, group: &group)
        try await drainAcknowledgements(group: &group)
        throw failure(
            .streamEndedEarly,
            "the stream ended after \(position) lines without a SyncComplete line; the events before were processed and acknowledged"
        )
    }

    /// Processes and acknowledges `batch` as runs of one type, in order, and empties it.
    mutating func processBatch(_ batch: inout [StreamEvent], group: inout ThrowingTaskGroup<Void, any Error>) async throws {
        guard !batch.isEmpty else { return }
        var start = 0
        while start < batch.count {
            let type = batch[start].type
            var end = start + 1
            while end < batch.count, batch[end].type == type { end += 1 }
            let chunk = Array(batch[start..<end])
            start = end
            try await processChunk(chunk, type: type, group: &group)
        }
        batch.removeAll(keepingCapacity: true)
    }

    mutating func processChunk(_ chunk: [StreamEvent], type: String, group: inout ThrowingTaskGroup<Void, any Error>) async throws {
        if Task.isCancelled { throw CancellationError() }
        do {
            try await processor.process(chunk, type: type)
        } catch {
            if Task.isCancelled { throw CancellationError() }
            // What was processed before this chunk is still acknowledged.
            let message = "processing \(chunk.count) events of type \(type) failed: \(error)"
            try? await drainAcknowledgements(group: &group)
            throw failure(.processingFailed, message, type: type, underlying: error)
        }
        unflushed = true
        processed += chunk.count
        reportProgress()
        try await acknowledge(chunk.map(\.ack), counts: [(type, chunk.count)], group: &group)
    }

    /// Acknowledges processed events: at once in sequential mode; queued behind the request
    /// in flight in pipelined mode.
    mutating func acknowledge(
        _ acks: [String],
        counts: [(type: String, count: Int)],
        group: inout ThrowingTaskGroup<Void, any Error>
    ) async throws {
        switch configuration.acknowledgements {
        case .sequential:
            try await flushIfNeeded()
            do {
                try await stream.acknowledge(acks)
            } catch {
                if Task.isCancelled || error is CancellationError { throw CancellationError() }
                throw failure(.acknowledgementFailed, "acknowledging \(Self.describe(acks)) failed: \(error)", underlying: error)
            }
            credit(counts)
        case .pipelined:
            pending.append(contentsOf: acks)
            pendingCounts.append(contentsOf: counts)
            if let inFlight {
                guard inFlight.signal.done.load(ordering: .acquiring) || pending.count >= configuration.maxPendingAcks else { return }
                try await awaitInFlight(group: &group)
            }
            try await send(group: &group)
        }
    }

    /// Sends the pending acks as one request, after a flush; nothing must be in flight.
    mutating func send(group: inout ThrowingTaskGroup<Void, any Error>) async throws {
        guard !pending.isEmpty else { return }
        try await flushIfNeeded()
        let acks = pending
        let signal = AckSignal()
        let stream = self.stream
        group.addTask {
            defer { signal.done.store(true, ordering: .releasing) }
            try await stream.acknowledge(acks)
        }
        inFlight = InFlight(signal: signal, counts: pendingCounts)
        pending.removeAll(keepingCapacity: true)
        pendingCounts.removeAll(keepingCapacity: true)
    }

    /// Waits for the request in flight, if any, and credits what it acknowledged.
    mutating func awaitInFlight(group: inout ThrowingTaskGroup<Void, any Error>) async throws {
        guard let sent = inFlight else { return }
        do {
            _ = try await group.next()
        } catch {
            inFlight = nil
            if Task.isCancelled || error is CancellationError { throw CancellationError() }
            throw failure(.acknowledgementFailed, "an acknowledgement request failed: \(error)", underlying: error)
        }
        inFlight = nil
        credit(sent.counts)
    }

    /// Waits until every processed chunk is acknowledged.
    mutating func drainAcknowledgements(group: inout ThrowingTaskGroup<Void, any Error>) async throws {
        while inFlight != nil || !pending.isEmpty {
            try await awaitInFlight(group: &group)
            try await send(group: &group)
        }
    }

    /// Follows a `SyncReset` line.
    mutating func startOver(group: inout ThrowingTaskGroup<Void, any Error>) async throws {
        // The request in flight covers processed events: let it land, so that it cannot
        // arrive after the reset. The acks not sent are dropped with the processor's state.
        try await awaitInFlight(group: &group)
        pending.removeAll()
        pendingCounts.removeAll()
        guard result.resets < configuration.maxResets else {
            throw failure(
                .tooManyResets,
                "the server asked to start over \(result.resets + 1) times in one run (at most \(configuration.maxResets) are followed)"
            )
        }
        if Task.isCancelled { throw CancellationError() }
        do {
            try await processor.reset()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw failure(.resetFailed, "the processor's reset failed: \(error)", underlying: error)
        }
        unflushed = true
        try await flushIfNeeded()
        do {
            try await stream.acknowledge([StreamAck.reset.description])
        } catch {
            if Task.isCancelled || error is CancellationError { throw CancellationError() }
            throw failure(.acknowledgementFailed, "acknowledging SyncReset|0 failed: \(error)", underlying: error)
        }
        result.resets += 1
    }

    mutating func flushIfNeeded() async throws {
        guard unflushed else { return }
        do {
            try await processor.flush()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw failure(.flushFailed, "the processor's flush failed, so nothing more was acknowledged: \(error)", underlying: error)
        }
        unflushed = false
    }

    mutating func credit(_ counts: [(type: String, count: Int)]) {
        guard !counts.isEmpty else { return }
        for (type, count) in counts where count > 0 {
            result.totals[type, default: 0] += count
            acknowledged += count
        }
        reportProgress()
    }

    func reportProgress() {
        onProgress?(EventPipelineProgress(processed: processed, acknowledged: acknowledged))
    }

    func failure(
        _ kind: EventPipelineError.Kind,
        _ message: String,
        type: String? = nil,
        underlying: (any Error)? = nil
    ) -> EventPipelineError {
        EventPipelineError(kind, message, result: result, type: type, underlying: underlying)
    }

    static func excerpt(_ line: [UInt8]) -> String {
        line.count <= 120 ? String(decoding: line, as: UTF8.self) : String(decoding: line.prefix(120), as: UTF8.self) + "…"
    }

    static func describe(_ acks: [String]) -> String {
        guard let first = acks.first, let last = acks.last else { return "nothing" }
        return acks.count == 1 ? first : "\(acks.count) acks (\(first) … \(last))"
    }
}
