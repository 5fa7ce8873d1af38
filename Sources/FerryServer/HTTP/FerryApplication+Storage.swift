import FerryLog
import Hummingbird
import Logging
import NIOCore

extension FerryApplication {
    /// A server on `serverConfiguration.address` serving `storage`, with the storage's
    /// ``FerryStorage/services`` running beside it (and stopping after it).
    ///
    /// Open `storage` with the same `metrics` (``FerryStorage/init(_:metrics:logger:)``) so
    /// that `GET /metrics` counts its long-poll waiters.
    /// A JWT is verified by `jwt`, when given (``JWTAuthenticator``).
    public static func makeApplication(
        storage: FerryStorage,
        jwt: JWTAuthenticator? = nil,
        metrics: ServerMetrics,
        configuration: ServerConfiguration = ServerConfiguration(),
        snapshots: SnapshotPolicy = SnapshotPolicy(),
        serverConfiguration: ApplicationConfiguration,
        logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        var services = storage.services
        if let store = storage.eventLog as? any SnapshotStore {
            services.append(
                SnapshotService(
                    store: store,
                    policy: snapshots,
                    observer: SnapshotService.Observer(
                        built: { _, _ in metrics.recordSnapshotBuilt() },
                        pruned: { metrics.recordPruned($0.mutationsDeleted) },
                        sizes: { metrics.recordLogSizes($0, complete: $1) }
                    ),
                    logger: logger
                )
            )
        }
        return makeApplication(
            eventLog: storage.eventLog,
            tokens: storage.tokens,
            jwt: jwt,
            metrics: metrics,
            configuration: configuration,
            serverConfiguration: serverConfiguration,
            services: services,
            logger: logger,
            onServerRunning: onServerRunning
        )
    }

    /// Serves `storage` on `host:port` until SIGINT or SIGTERM, then shuts down gracefully
    /// (requests in flight finish, long-polls answer at once): `ferry serve` in one call.
    /// - Parameters:
    ///   - jwt: Verifies the JWTs of the app's identity provider, when given.
    ///   - port: The port, or 0 for any free one.
    ///   - onListening: Called with the port once the server listens.
    public static func serve(
        storage: FerryStorage,
        jwt: JWTAuthenticator? = nil,
        metrics: ServerMetrics,
        configuration: ServerConfiguration = ServerConfiguration(),
        snapshots: SnapshotPolicy = SnapshotPolicy(),
        host: String,
        port: Int,
        logger: Logger,
        onListening: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
    ) async throws {
        let app = makeApplication(
            storage: storage,
            jwt: jwt,
            metrics: metrics,
            configuration: configuration,
            snapshots: snapshots,
            serverConfiguration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "ferry"),
            logger: logger
        ) { channel in
            await onListening(channel.localAddress?.port ?? port)
        }
        try await app.runService()
    }
}
