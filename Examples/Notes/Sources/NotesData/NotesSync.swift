import FerryClient
import FerryCore
import FerryHTTP
import Foundation
import ServiceLifecycle

/// Keeps a ``NotesDatabase`` in sync with a Ferry server, for as long as it runs.
///
/// ```swift
/// let sync = NotesSync(notes, server: "https://sync.example.com", accessToken: token, space: "notes-of-ada")
/// let group = ServiceGroup(services: [sync.manager], logger: logger)   // beside the app's other services
/// try await group.run()
/// ```
///
/// The manager pushes each write shortly after it commits (it watches the outbox), holds a
/// long-poll open so that other devices' changes arrive as they happen, and backs off when the
/// network fails. ``summary`` turns its status into what a notes app shows in its toolbar.
public struct NotesSync<C: Clock>: Sendable where C.Duration == Duration {
    /// The sync manager: a swift-service-lifecycle `Service`.
    public let manager: SyncManager<C>
    /// The transport the manager syncs through. An `HTTPTransport` holds an HTTP client: call
    /// its `shutdown()` when the app stops syncing for good.
    public let transport: any SyncTransport

    /// Syncs `notes` through any transport (``FerryTestKit/InMemoryTransport`` in tests).
    public init(
        _ notes: NotesDatabase,
        transport: any SyncTransport,
        space: String,
        clock: C,
        schedule: SyncSchedule = SyncSchedule(live: true)
    ) {
        self.transport = transport
        manager = SyncManager(
            engine: SyncEngine(store: notes.store, transport: transport, space: space),
            schedule: schedule,
            clock: clock
        )
    }

    /// One line for the app's toolbar, from the manager's status.
    public var summary: String { Self.summary(of: manager.status) }

    /// One line for people from a status: what is wrong first, then what waits, then when the
    /// notes were last in sync.
    public static func summary(of status: SyncStatus, now: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) -> String {
        var parts: [String] = []
        switch status.reasonCode {
        case .authRequired?: parts.append("Sign in again to sync")
        case .policyForbidden?: parts.append("This account may not sync these notes")
        case .some: parts.append("Offline, retrying")
        case nil: break
        }
        if status.pending > 0 { parts.append("\(status.pending) change\(status.pending == 1 ? "" : "s") waiting") }
        if status.conflicts > 0 { parts.append("\(status.conflicts) conflict\(status.conflicts == 1 ? "" : "s") to review") }
        if parts.isEmpty {
            guard let last = status.lastSyncAt else { return "Not synced yet" }
            let seconds = max(0, (now - last) / 1000)
            return seconds < 60 ? "Up to date" : "Synced \(seconds / 60) min ago"
        }
        return parts.joined(separator: " · ")
    }
}

extension NotesSync where C == ContinuousClock {
    /// Syncs `notes` with the Ferry server at `server` over HTTP. The access token is a device
    /// token from the app's backend (docs/auth.md); `onTokensRefreshed` must store the rotated
    /// pair (in the keychain, say).
    public init(
        _ notes: NotesDatabase,
        server: String,
        accessToken: String,
        refreshToken: String? = nil,
        space: String,
        onTokensRefreshed: @escaping @Sendable (TokenPair) async -> Void = { _ in }
    ) {
        let transport = HTTPTransport(
            configuration: HTTPTransportConfiguration(
                baseURL: server,
                accessToken: accessToken,
                refreshToken: refreshToken,
                onTokensRefreshed: onTokensRefreshed
            )
        )
        self.init(notes, transport: transport, space: space, clock: ContinuousClock())
    }
}
