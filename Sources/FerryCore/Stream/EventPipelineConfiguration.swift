/// How an ``EventPipeline`` batches, acknowledges and treats invalid lines, with documented
/// defaults.
public struct EventPipelineConfiguration: Sendable {
    /// How acknowledgement requests relate to the processing of the next chunks.
    public enum AcknowledgementMode: Sendable, Hashable {
        /// Process a chunk, flush, acknowledge it, wait for the answer, then the next chunk:
        /// one request per chunk, nothing overlaps.
        case sequential
        /// At most one acknowledgement request in flight. While it is, the pipeline goes on
        /// processing the next chunks and accumulates their acks; once it has returned, the
        /// next request carries all the accumulated acks, in stream order, after a
        /// ``EventProcessor/flush()``. Acks are never reordered, never sent for a chunk not
        /// processed, and the processor is only called from the pipeline's task.
        case pipelined
    }

    /// What to do with a line that is not a valid event.
    public enum InvalidEventPolicy: Sendable, Hashable {
        /// End the run with ``EventPipelineError/Kind/invalidEvent`` after processing and
        /// acknowledging everything before the line, so that no checkpoint moves past it.
        case fail
        /// Leave the line out and go on; it is counted and listed in
        /// ``EventPipelineResult/skipped``. Acknowledging later events moves the checkpoint
        /// past it: the server will not send it again.
        case skip
    }

    /// The events read before they are split into chunks of one type. Default: 100.
    /// A chunk never spans two batches.
    public var batchSize: Int
    /// Default: ``AcknowledgementMode/pipelined``.
    public var acknowledgements: AcknowledgementMode
    /// In ``AcknowledgementMode/pipelined`` mode, how many acks may accumulate while a
    /// request is in flight before the pipeline waits for it. Default: 1000, the protocol's
    /// limit for one request.
    public var maxPendingAcks: Int
    /// Default: ``InvalidEventPolicy/fail``.
    public var invalidEvents: InvalidEventPolicy
    /// How many `SyncReset` lines one run follows; one more fails it with
    /// ``EventPipelineError/Kind/tooManyResets``. Default: 3.
    public var maxResets: Int
    /// How many skipped lines ``EventPipelineResult/skipped`` lists (all are counted).
    /// Default: 100.
    public var maxSkippedListed: Int

    /// Creates a configuration; every argument has the default documented on its property.
    public init(
        batchSize: Int = 100,
        acknowledgements: AcknowledgementMode = .pipelined,
        maxPendingAcks: Int = 1000,
        invalidEvents: InvalidEventPolicy = .fail,
        maxResets: Int = 3,
        maxSkippedListed: Int = 100
    ) {
        self.batchSize = max(1, batchSize)
        self.acknowledgements = acknowledgements
        self.maxPendingAcks = max(1, maxPendingAcks)
        self.invalidEvents = invalidEvents
        self.maxResets = max(0, maxResets)
        self.maxSkippedListed = max(0, maxSkippedListed)
    }
}

/// What an ``EventPipeline`` run did.
public struct EventPipelineResult: Sendable, Hashable {
    /// A line left out under ``EventPipelineConfiguration/InvalidEventPolicy/skip``.
    public struct SkippedLine: Sendable, Hashable {
        /// The line's 1-based position in the stream it came in (counted from the stream's
        /// first line; a stream opened again after a reset counts from 1 again).
        public var position: Int
        /// Why it is not a valid event.
        public var reason: String
        /// The start of the line, at most 120 bytes, as text.
        public var excerpt: String
    }

    /// The events processed and acknowledged, per type, over the whole run (a reset does
    /// not clear them).
    public var totals: [String: Int] = [:]
    /// The `head_seq` of the `SyncComplete` line that ended the run; `nil` until then.
    public var completedThrough: Int64?
    /// The `SyncReset` lines followed.
    public var resets = 0
    /// The invalid lines skipped.
    public var skippedCount = 0
    /// The first skipped lines, at most ``EventPipelineConfiguration/maxSkippedListed``.
    public var skipped: [SkippedLine] = []

    /// Creates an empty result.
    public init() {}

    /// The events processed and acknowledged, all types together.
    public var total: Int { totals.values.reduce(0, +) }
}

/// Where a run is, handed to ``EventPipeline/run(processor:onProgress:)``'s callback.
public struct EventPipelineProgress: Sendable, Hashable {
    /// Events handed to the processor so far.
    public var processed: Int
    /// Events processed and acknowledged so far.
    public var acknowledged: Int

    /// Creates a progress report.
    public init(processed: Int, acknowledged: Int) {
        self.processed = processed
        self.acknowledged = acknowledged
    }
}

/// Why an ``EventPipeline`` run failed, with what it had acknowledged before.
public struct EventPipelineError: Error, Sendable, CustomStringConvertible {
    /// The kinds of failure.
    public enum Kind: Sendable, Hashable {
        /// A line is not a valid event (``EventPipelineError/position``, ``EventPipelineError/reason``).
        case invalidEvent
        /// The processor threw from ``EventProcessor/process(_:type:)`` (``EventPipelineError/type``).
        case processingFailed
        /// The processor threw from ``EventProcessor/flush()``; nothing it had not made
        /// durable was acknowledged.
        case flushFailed
        /// The processor threw from ``EventProcessor/reset()``.
        case resetFailed
        /// An acknowledgement request failed.
        case acknowledgementFailed
        /// The stream could not be opened, or failed while it was read.
        case streamFailed
        /// The stream ended without a `SyncComplete` line.
        case streamEndedEarly
        /// More `SyncReset` lines than ``EventPipelineConfiguration/maxResets`` in one run.
        case tooManyResets
    }

    /// What failed.
    public var kind: Kind
    /// A sentence saying what happened.
    public var message: String
    /// For ``Kind/invalidEvent``: the line's 1-based position in the stream.
    public var position: Int?
    /// For ``Kind/invalidEvent``: why the line is not a valid event.
    public var reason: String?
    /// For ``Kind/invalidEvent``: the start of the line.
    public var excerpt: String?
    /// For ``Kind/processingFailed``: the type of the chunk.
    public var type: String?
    /// What the run had processed and acknowledged before it failed.
    public var result: EventPipelineResult
    /// The error thrown by the processor, the stream or the acknowledgement.
    public var underlying: (any Error)?

    /// Creates an error.
    public init(
        _ kind: Kind,
        _ message: String,
        result: EventPipelineResult,
        position: Int? = nil,
        reason: String? = nil,
        excerpt: String? = nil,
        type: String? = nil,
        underlying: (any Error)? = nil
    ) {
        self.kind = kind
        self.message = message
        self.result = result
        self.position = position
        self.reason = reason
        self.excerpt = excerpt
        self.type = type
        self.underlying = underlying
    }

    /// The events processed and acknowledged per type before the failure.
    public var totals: [String: Int] { result.totals }

    public var description: String { message }
}
