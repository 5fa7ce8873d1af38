/// One delta sync of an outside source into a sink: the Aurinko orchestrator's lifecycle,
/// without its known faults.
///
/// A run
/// 1. resumes from the sink's stored tokens, or starts a full sync when there are none
///    (starting again, with a growing pause, while the source answers `ready: false`);
/// 2. stages every page of updated records in the sink, then every page of deleted ids;
/// 3. has the sink apply what it staged together with the new tokens, in one transaction of
///    the same store, and only after both drains finished: a run cut short anywhere leaves
///    the records and the tokens as they were, and the next run repeats the work.
///
/// When the source no longer knows the stored tokens, the run starts over as a full sync
/// that ends with exactly the source's records: records the full sync did not see are
/// removed (mark and sweep, the staged records being the marks). `429`/`503` answers are waited out (their `Retry-After`, or the backoff) and
/// the same request is made again. Any other failure ends the run with a ``DeltaSyncError``.
///
/// Every step is reported through `onEvent` (``DeltaSyncEvent``), one event per batch. Time
/// comes from the injected clock, so tests drive the waits.
public struct DeltaSync<C: Clock>: Sendable where C.Duration == Duration {
    /// The source read from.
    public let source: any DeltaSource
    /// The sink written to.
    public let sink: any DeltaSink
    /// How the run waits and retries.
    public let configuration: DeltaSyncConfiguration
    private let clock: C
    private let random: @Sendable () -> Double
    private let onEvent: @Sendable (DeltaSyncEvent) -> Void

    /// Creates a sync of `source` into `sink`.
    /// - Parameters:
    ///   - clock: Measures durations and times the waits.
    ///   - random: Numbers in 0...1 that pick the backoff jitter.
    ///   - onEvent: Called with every ``DeltaSyncEvent``, on the task that runs the sync; keep
    ///     it short.
    public init(
        source: any DeltaSource,
        sink: any DeltaSink,
        configuration: DeltaSyncConfiguration = DeltaSyncConfiguration(),
        clock: C,
        random: @escaping @Sendable () -> Double = { Double.random(in: 0...1) },
        onEvent: @escaping @Sendable (DeltaSyncEvent) -> Void = { _ in }
    ) {
        self.source = source
        self.sink = sink
        self.configuration = configuration
        self.clock = clock
        self.random = random
        self.onEvent = onEvent
    }

    private var stream: String { source.stream }

    /// Runs one sync pass.
    /// - Returns: What the run did; its tokens are stored.
    /// - Throws: ``DeltaSyncError`` (the stored tokens did not move), or `CancellationError`.
    public func run() async throws -> DeltaSyncResult {
        let began = clock.now
        var progress = Progress()
        do {
            let stored = try await sinkCall { try await sink.tokens(stream: stream) }
            onEvent(.started(stream: stream, fullResync: stored == nil))
            var resume = stored
            while true {
                do {
                    let result = try await pass(resuming: resume, progress: &progress, began: began)
                    onEvent(.finished(result))
                    return result
                } catch let error as DeltaSourceError where error.code == .tokenInvalid && resume != nil {
                    // The source forgot the stored tokens: start over, once, as a full sync,
                    // whose `begin` drops what this attempt staged (so it is not counted).
                    progress = Progress()
                    progress.tokensRejected = true
                    resume = nil
                    onEvent(.tokensRejected(stream: stream))
                }
            }
        } catch {
            let failure = classify(error)
            if let failure {
                onEvent(.failed(stream: stream, code: failure.code, message: failure.message))
                throw failure
            }
            throw error
        }
    }

    private struct Progress {
        var updated = 0
        var deleted = 0
        var pages = 0
        var tokensRejected = false
    }

    /// One attempt: resume from `tokens`, or a full sync when `nil`.
    private func pass(resuming tokens: DeltaTokens?, progress: inout Progress, began: C.Instant) async throws -> DeltaSyncResult {
        let fullResync = tokens == nil
        try await sinkCall { try await sink.begin(stream: stream, fullSync: fullResync) }
        let from: DeltaTokens
        if let tokens { from = tokens } else { from = try await startWhenReady() }

        let nextUpdated = try await drain(
            from: from.updated,
            fetch: { try await source.updated($0) },
            write: { try await sink.upsert($0, stream: stream) },
            report: { count, duration in
                progress.updated += count
                progress.pages += 1
                onEvent(.updatedBatch(stream: stream, count: count, total: progress.updated, duration: duration))
            }
        )
        let nextDeleted = try await drain(
            from: from.deleted,
            fetch: { try await source.deleted($0) },
            write: { try await sink.delete(ids: $0, stream: stream) },
            report: { count, duration in
                progress.deleted += count
                progress.pages += 1
                onEvent(.deletedBatch(stream: stream, count: count, total: progress.deleted, duration: duration))
            }
        )

        let next = DeltaTokens(updated: nextUpdated, deleted: nextDeleted)
        let swept = try await sinkCall { try await sink.finish(stream: stream, tokens: next, sweep: fullResync) }
        return DeltaSyncResult(
            stream: stream,
            updated: progress.updated,
            deleted: progress.deleted,
            swept: swept,
            duration: began.duration(to: clock.now),
            fullResync: fullResync,
            tokensRejected: progress.tokensRejected,
            pages: progress.pages,
            tokens: next
        )
    }

    /// Reads every page of one drain from `token` and writes each; answers the drain's next
    /// delta token. The first call sends the delta token, every later one the page token.
    private func drain<Item: Sendable>(
        from token: String,
        fetch: (DeltaPosition) async throws -> DeltaPage<Item>,
        write: ([Item]) async throws -> Void,
        report: (Int, Duration) -> Void
    ) async throws -> String {
        var position = DeltaPosition.delta(token)
        while true {
            let asked = clock.now
            let page = try await sourceCall { try await fetch(position) }
            if !page.items.isEmpty { try await sinkCall { try await write(page.items) } }
            report(page.items.count, asked.duration(to: clock.now))
            switch page.next {
            case .page(let pageToken): position = .page(pageToken)
            case .done(let nextDeltaToken): return nextDeltaToken
            }
        }
    }

    /// Starts a sync, starting again with a growing pause while the source is not ready.
    private func startWhenReady() async throws -> DeltaTokens {
        var attempt = 0
        while true {
            attempt += 1
            let start = try await sourceCall { try await source.start() }
            if start.ready { return start.tokens }
            guard attempt < configuration.startAttempts else {
                throw DeltaSyncError(
                    .notReady,
                    stream: stream,
                    "the source was still not ready after \(attempt) starts"
                )
            }
            let delay = configuration.startBackoff.delay(afterFailures: attempt, unit: random())
            onEvent(.waitingForReady(stream: stream, attempt: attempt, delay: delay))
            try await clock.sleep(for: delay, tolerance: nil)
        }
    }

    /// Makes a source call, waiting out `429`/`503` answers.
    private func sourceCall<T>(_ call: () async throws -> T) async throws -> T {
        var waits = 0
        while true {
            do {
                return try await call()
            } catch let error as DeltaSourceError where error.code == .rateLimited {
                waits += 1
                let delay = error.retryAfter ?? configuration.rateLimitBackoff.delay(afterFailures: waits, unit: random())
                guard waits <= configuration.rateLimitRetries, delay <= configuration.longestRetryAfter else {
                    throw DeltaSyncError(
                        .rateLimited,
                        stream: stream,
                        waits > configuration.rateLimitRetries
                            ? "the source was still rate limiting after \(waits - 1) waits: \(error.message)"
                            : "the source asked to wait \(delay), longer than \(configuration.longestRetryAfter): \(error.message)",
                        retryAfter: delay,
                        cause: error
                    )
                }
                onEvent(.rateLimited(stream: stream, attempt: waits, delay: delay))
                try await clock.sleep(for: delay, tolerance: nil)
            }
        }
    }

    /// Makes a sink call; its failures become ``DeltaSyncError/Code/sinkFailed``.
    private func sinkCall<T>(_ call: () async throws -> T) async throws -> T {
        do {
            return try await call()
        } catch let error as DeltaSyncError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw DeltaSyncError(.sinkFailed, stream: stream, "the local store failed: \(error)", cause: error)
        }
    }

    /// The run's error for a failure, or `nil` for cancellation (rethrown as is).
    private func classify(_ error: any Error) -> DeltaSyncError? {
        switch error {
        case let error as DeltaSyncError:
            return error
        case is CancellationError:
            return nil
        case let error as DeltaSourceError:
            switch error.code {
            case .unauthorized:
                return DeltaSyncError(.unauthorized, stream: stream, error.message, cause: error)
            case .tokenInvalid:
                return DeltaSyncError(
                    .tokenInvalid,
                    stream: stream,
                    "the source rejected the tokens of the full sync it had just started: \(error.message)",
                    cause: error
                )
            default:
                return DeltaSyncError(.sourceFailed, stream: stream, error.message, retryAfter: error.retryAfter, cause: error)
            }
        default:
            return DeltaSyncError(.sourceFailed, stream: stream, "\(error)", cause: error)
        }
    }
}
