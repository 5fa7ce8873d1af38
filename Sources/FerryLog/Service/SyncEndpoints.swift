import FerryCore
import ServiceLifecycle

/// The server's push and pull, apart from HTTP: the protocol's validation and limits, the
/// store, and the long-poll. The HTTP routes and `FerryTestKit.InMemoryTransport` both call
/// it, so a test on the in-memory transport meets exactly the rules of the real server.
package struct SyncEndpoints: Sendable {
    /// The store of the logs.
    package let eventLog: any EventLog
    /// The limits and timings.
    package let configuration: ServerConfiguration
    /// The reads long-polls woken by the same commit share.
    package let wakeUpReads = WakeUpReads()

    /// What a push did, for the answer and the metrics.
    package struct PushOutcome: Sendable {
        /// The answer to send.
        package var response: PushResponse
        /// How many mutations were rejected as duplicates.
        package var duplicates: Int
        /// How many mutations were rejected as invalid.
        package var invalid: Int
    }

    /// Creates the endpoints over a store.
    package init(eventLog: any EventLog, configuration: ServerConfiguration) {
        self.eventLog = eventLog
        self.configuration = configuration
    }

    /// Checks a push (`400` for a bad request as a whole, `413` for a payload over the
    /// limit), asks `authorize` whether the caller may write its space, appends the valid
    /// mutations in one batch, and answers per mutation in request order.
    package func push(_ push: PushEnvelope, authorize: (String) throws -> Void) async throws -> PushOutcome {
        let validator = PushValidator(configuration: configuration)
        try validator.checkEnvelope(push)
        try authorize(push.space)
        let checked = try validator.checkMutations(push.mutations)
        let result = try await eventLog.append(
            AppendBatch(
                space: push.space,
                deviceID: push.deviceID,
                sessionID: push.sessionID,
                mutations: checked.valid.map { push.mutations[$0] }
            )
        )
        let response = PushResponse(merging: result, checked: checked, mutations: push.mutations)
        return PushOutcome(response: response, duplicates: checked.valid.count - response.accepted, invalid: checked.invalid.count)
    }

    /// Reads a page of the query's space; when it is empty and the query waits, holds until
    /// a mutation the caller may see is committed, the wait passes, or the server shuts down
    /// gracefully (then the empty page is answered at once).
    /// - Throws: ``FerryError`` with code `cursor_ahead` when the cursor is above the head.
    ///
    /// The reads of long-polls are shared (``WakeUpReads``): those a commit wakes, and those
    /// that arrive together, as the devices a commit answered come back with their next pull.
    package func pull(_ query: PullQuery) async throws -> LogPage {
        guard let wait = query.wait, wait > .zero else { return try await read(query) }
        let page = try await wakeUpReads.page(for: query, from: eventLog)
        guard page.mutations.isEmpty else { return page }
        return try await longPoll(first: page, query: query, wait: wait, clock: configuration.clock)
    }

    /// Each round sleeps until the head moves; nothing polls the store. The waiters a commit
    /// wakes share one read of the space (``WakeUpReads``).
    private func longPoll(first: LogPage, query: PullQuery, wait: Duration, clock: some Clock<Duration>) async throws -> LogPage {
        let deadline = clock.now.advanced(by: wait)
        var page = first
        try await withGracefulShutdownHandler {
            while page.mutations.isEmpty {
                let remaining = clock.now.duration(to: deadline)
                guard remaining > .zero,
                    await eventLog.waitForAppend(space: query.space, above: page.latestSeq, timeout: remaining)
                else { return }
                page = try await wakeUpReads.page(for: query, from: eventLog)
            }
        } onGracefulShutdown: {
            eventLog.shutdownWaiters()
        }
        return page
    }

    private func read(_ query: PullQuery) async throws -> LogPage {
        try await eventLog.read(space: query.space, since: query.since, limit: query.limit, excludingDevice: query.excludeDevice)
    }
}
