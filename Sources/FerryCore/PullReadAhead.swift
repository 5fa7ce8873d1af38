/// Pulls a space's pages one ahead: while the caller applies a page, the request for the
/// next one (from that page's `latest_seq`) is already on its way, so the server's work and
/// the network overlap the caller's instead of following it.
///
/// Only a page asked for with the cursor it was fetched from is handed out: when the caller
/// asks for another cursor (after a reset, say), the page fetched ahead is dropped. Call
/// ``cancel()`` when done early; a page fetched ahead and never asked for is cancelled too.
public struct PullReadAhead: Sendable {
    /// The way to the server.
    public let transport: any SyncTransport
    /// The space pulled.
    public let space: String
    /// Mutations per page; `nil` for the server's default.
    public let limit: Int?
    /// A device whose mutations the pages leave out.
    public let excludeDevice: String?
    private var ahead: (since: Int64, task: Task<PullResponse, any Error>)?

    /// Creates a read-ahead puller; it sends nothing until asked.
    public init(transport: any SyncTransport, space: String, limit: Int? = nil, excludeDevice: String? = nil) {
        self.transport = transport
        self.space = space
        self.limit = limit
        self.excludeDevice = excludeDevice
    }

    /// The page after `since`: the one fetched ahead when it was fetched for `since`, else
    /// a new request (held up to `wait` when the log has nothing new).
    public mutating func page(since: Int64, wait: Duration? = nil) async throws -> PullResponse {
        if let ahead, ahead.since == since {
            self.ahead = nil
            return try await withTaskCancellationHandler {
                try await ahead.task.value
            } onCancel: {
                ahead.task.cancel()
            }
        }
        cancel()
        return try await transport.pull(space: space, since: since, limit: limit, excludeDevice: excludeDevice, wait: wait)
    }

    /// Starts fetching the page after `since` now.
    public mutating func fetchAhead(since: Int64) {
        cancel()
        let (transport, space, limit, excludeDevice) = (transport, space, limit, excludeDevice)
        ahead = (
            since, Task { try await transport.pull(space: space, since: since, limit: limit, excludeDevice: excludeDevice, wait: nil) }
        )
    }

    /// Drops the page fetched ahead, cancelling its request.
    public mutating func cancel() {
        ahead?.task.cancel()
        ahead = nil
    }
}
