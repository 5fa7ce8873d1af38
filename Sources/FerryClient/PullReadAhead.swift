import FerryCore

/// Pulls a space's pages ahead of the caller: while the caller applies a page, the requests
/// for the next ones are already on their way, so the server's work, the network and the
/// decoding overlap the caller's instead of following it.
///
/// After a page that is not the last, the next page (from its `latest_seq`) is requested at
/// once; when the pages are whole slices of a dense log (no `exclude_device`), the page after
/// that starts `page size` seqs later, and is requested too when it lies below the head.
/// Only a page asked for with the cursor it was fetched from is handed out: pages fetched
/// for other cursors (after a reset, say) are dropped and their requests cancelled.
///
/// The value owns its requests: it cannot be copied, and when it goes away the requests
/// still on their way are cancelled, so none outlives its owner. ``cancel()`` drops them
/// sooner.
package struct PullReadAhead: ~Copyable, Sendable {
    /// The way to the server.
    package let transport: any SyncTransport
    /// The space pulled.
    package let space: String
    /// Mutations per page; `nil` for the server's default.
    package let limit: Int?
    /// A device whose mutations the pages leave out.
    package let excludeDevice: String?
    /// Pages requested ahead, by the cursor they were requested from, in ascending order.
    private var ahead: [(since: Int64, task: Task<PullResponse, any Error>)] = []

    /// Creates a read-ahead puller; it sends nothing until asked.
    package init(transport: any SyncTransport, space: String, limit: Int? = nil, excludeDevice: String? = nil) {
        self.transport = transport
        self.space = space
        self.limit = limit
        self.excludeDevice = excludeDevice
    }

    /// The page after `since`: the one fetched ahead for `since`, else a new request (held up
    /// to `wait` when the log has nothing new). Pages fetched ahead for lower cursors are dropped.
    package mutating func page(since: Int64, wait: Duration? = nil) async throws -> PullResponse {
        while let first = ahead.first, first.since < since {
            first.task.cancel()
            ahead.removeFirst()
        }
        if let first = ahead.first, first.since == since {
            ahead.removeFirst()
            return try await withTaskCancellationHandler {
                try await first.task.value
            } onCancel: {
                first.task.cancel()
            }
        }
        cancel()
        return try await transport.pull(space: space, since: since, limit: limit, excludeDevice: excludeDevice, wait: wait)
    }

    /// Requests the pages that follow `page`, when it is not the last (see the type's
    /// description).
    package mutating func fetchAhead(after page: PullResponse) {
        guard page.hasMore else { return }
        var cursors = [page.latestSeq]
        let size = Int64(page.mutations.count)
        if excludeDevice == nil, size > 0, page.latestSeq + size < page.headSeq {
            cursors.append(page.latestSeq + size)
        }
        for since in cursors where !ahead.contains(where: { $0.since == since }) {
            let (transport, space, limit, excludeDevice) = (transport, space, limit, excludeDevice)
            ahead.append(
                (
                    since,
                    Task { try await transport.pull(space: space, since: since, limit: limit, excludeDevice: excludeDevice, wait: nil) }
                )
            )
        }
        ahead.sort { $0.since < $1.since }
    }

    /// Drops the pages fetched ahead, cancelling their requests.
    package mutating func cancel() {
        for entry in ahead { entry.task.cancel() }
        ahead.removeAll()
    }

    deinit {
        for entry in ahead { entry.task.cancel() }
    }
}
