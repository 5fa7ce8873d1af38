import FerryCore
import ServiceLifecycle

extension SyncEndpoints {
    /// How a live channel's loop ended without an error.
    package enum LiveEnd: Sendable, Equatable {
        /// The server shuts down gracefully (or `stopped` answered `true`).
        case shutdown
        /// The task was cancelled.
        case cancelled
    }

    /// The first page of a live channel: the page a pull of `query` reads now, without waiting.
    /// - Throws: ``FerryError`` as a pull does: `cursor_ahead`, `history_pruned`, a storage failure.
    package func liveFirstPage(_ query: PullQuery) async throws -> LogPage {
        var query = query
        query.wait = nil
        return try await wakeUpReads.page(for: query, from: eventLog)
    }

    /// The loop of a live channel, after its first page `first` was sent: keeps a cursor (the
    /// `latest_seq` of the last page), sends the following pages at once while the head is
    /// beyond it, then sleeps until a commit above it and sends the next page.
    ///
    /// A page with no mutation (every new mutation was the excluded device's own) is not sent:
    /// the cursor moves past them silently. `send` is awaited before the next read, so a slow
    /// consumer holds no more than one page and catches up by pages. The reads are the shared
    /// reads of the long-polls (``WakeUpReads``): the channels a commit wakes read once.
    ///
    /// - Parameters:
    ///   - heartbeat: The longest single wait on the store; the loop waits again after it.
    ///   - stopped: Asked after each wait that ended without a commit; `true` ends the loop
    ///     with ``LiveEnd/shutdown`` (for callers that watch the shutdown themselves).
    /// - Returns: Why the loop ended: a graceful shutdown or cancellation.
    /// - Throws: What the reads or `send` throw (`history_pruned` when retention passed the
    ///   cursor, a storage failure, a write to a closed connection).
    package func live(
        _ query: PullQuery,
        after first: LogPage,
        heartbeat: Duration = .seconds(60),
        stopped: @escaping @Sendable () -> Bool = { false },
        send: (LogPage) async throws -> Void
    ) async throws -> LiveEnd {
        var query = query
        query.wait = nil
        var page = first
        return try await withGracefulShutdownHandler {
            while true {
                query.since = page.latestSeq
                if !page.hasMore {
                    let appended = await eventLog.waitForAppend(space: query.space, above: query.since, timeout: heartbeat)
                    if Task.isCancelled { return .cancelled }
                    if Task.isShuttingDownGracefully || stopped() { return .shutdown }
                    guard appended else { continue }
                }
                page = try await wakeUpReads.page(for: query, from: eventLog)
                if !page.mutations.isEmpty { try await send(page) }
            }
        } onGracefulShutdown: {
            eventLog.shutdownWaiters()
        }
    }
}
