import FerryCore
import FerryLog
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Builds the Ferry HTTP application from its parts.
///
/// The parts are handed in, not made here, so that a test or an embedding app chooses the
/// stores, the registry and the clock. ``makeRouter(eventLog:tokens:jwt:metrics:configuration:activity:logger:)``
/// gives the routes alone; ``makeApplication(eventLog:tokens:jwt:metrics:configuration:activity:serverConfiguration:services:logger:onServerRunning:)``
/// wraps them in a server ready to run as a `Service`.
public enum FerryApplication {
    /// The routes of the protocol, with error, metrics and auth middleware.
    ///
    /// `/sync` admits the tokens of `tokens` scoped to spaces and, when `jwt` is given, the
    /// JWTs of the app's identity provider; `/admin` admits admin tokens of `tokens` only.
    /// `/console` serves the operator console's page (no auth: it holds no data), whose data
    /// comes from `/admin`; `activity` records the devices and conflicts it shows (one per
    /// server process; its clock also dates the server's start).
    public static func makeRouter(
        eventLog: any EventLog,
        tokens: any TokenStore,
        jwt: JWTAuthenticator? = nil,
        metrics: ServerMetrics,
        configuration: ServerConfiguration,
        activity: ServerActivity = ServerActivity(),
        logger: Logger
    ) -> Router<FerryRequestContext> {
        makeRoutes(
            eventLog: eventLog,
            tokens: tokens,
            jwt: jwt,
            metrics: metrics,
            configuration: configuration,
            activity: activity,
            logger: logger
        ).router
    }

    /// The router of ``makeRouter(eventLog:tokens:jwt:metrics:configuration:activity:logger:)``
    /// and the live channel its server upgrades to (sharing the router's reads and limits).
    static func makeRoutes(
        eventLog: any EventLog,
        tokens: any TokenStore,
        jwt: JWTAuthenticator?,
        metrics: ServerMetrics,
        configuration: ServerConfiguration,
        activity: ServerActivity,
        logger: Logger
    ) -> (router: Router<FerryRequestContext>, live: LiveChannel) {
        let router = Router(context: FerryRequestContext.self)
        router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
        router.add(middleware: ErrorMiddleware(logger: logger))
        router.add(middleware: QueryLimitMiddleware(maxQueryBytes: configuration.maxQueryBytes))

        router.get("healthz") { _, _ -> Response in
            do {
                // No token is needed here, so nothing of any space is named, and the answer
                // costs the same however many spaces the server holds (the per-space figures
                // are in the admin API and, for the largest logs, in /metrics).
                try await eventLog.checkHealth()
                return try JSONResponse.make(HealthStatus(status: "ok", error: nil))
            } catch {
                let detail = ErrorResponse(FerryError(.unavailable, "the storage does not answer")).error
                return try JSONResponse.make(HealthStatus(status: "unavailable", error: detail), status: .serviceUnavailable)
            }
        }
        router.get("metrics") { _, _ -> Response in
            let bytes = metrics.render()
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        // The document names this server's limits; it is the same for every request.
        let document = ByteBuffer(string: OpenAPIDocument.yaml(for: configuration))
        router.get("openapi.yaml") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "application/yaml"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: document))
        }

        let controller = SyncController(
            endpoints: SyncEndpoints(eventLog: eventLog, configuration: configuration),
            tokens: tokens,
            metrics: metrics,
            longPolls: LongPollLimiter(perGrant: configuration.maxLongPollsPerToken, total: configuration.maxLongPolls),
            activity: activity,
            coding: ContentCoding(configuration: configuration)
        )
        controller.addAuthRoutes(to: router)
        let sync = router.group("sync")
        if configuration.compression { sync.add(middleware: AcceptEncodingMiddleware()) }
        let authorized = sync.add(middleware: AuthMiddleware(tokens: tokens, jwt: jwt, realm: .spaces, metrics: metrics))
        controller.addSyncRoutes(to: authorized)
        let live = LiveChannel(endpoints: controller.endpoints, tokens: tokens, jwt: jwt, metrics: metrics, longPolls: controller.longPolls)
        // A live channel's upgrade refused before the upgrade is answered here, as a request.
        authorized.get("mutations/live", use: live.answerRefusal)
        let admin = router.group("admin").add(middleware: AuthMiddleware(tokens: tokens, jwt: jwt, realm: .admin, metrics: metrics))
        AdminController(tokens: tokens, configuration: configuration).addRoutes(to: admin)
        ConsoleAdminRoutes(eventLog: eventLog, activity: activity, clock: activity.clock, startedAt: activity.clock.nowMilliseconds())
            .addRoutes(to: admin)
        ConsolePage.addRoutes(to: router)
        return (router, live)
    }

    /// A server on `serverConfiguration.address` serving the routes of
    /// ``makeRouter(eventLog:tokens:jwt:metrics:configuration:activity:logger:)``.
    ///
    /// Run it with `runService()` (which shuts down gracefully on SIGINT and SIGTERM: requests
    /// in flight finish, long-polls answer at once) or in a `ServiceGroup`. `services` run
    /// beside the server and stop after it (a ``PostgresBackend``, for one). Its HTTP/1
    /// channel applies `configuration`'s ``FerryLog/ServerConfiguration/idleTimeout`` and
    /// ``FerryLog/ServerConfiguration/maxHeaderBytes`` (``http1Server(_:)``), and upgrades
    /// `GET /sync/mutations/live` to the live channel's WebSocket (docs/protocol.md).
    public static func makeApplication(
        eventLog: any EventLog,
        tokens: any TokenStore,
        jwt: JWTAuthenticator? = nil,
        metrics: ServerMetrics,
        configuration: ServerConfiguration,
        activity: ServerActivity = ServerActivity(),
        serverConfiguration: ApplicationConfiguration,
        services: [any Service] = [],
        logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let (router, live) = makeRoutes(
            eventLog: eventLog,
            tokens: tokens,
            jwt: jwt,
            metrics: metrics,
            configuration: configuration,
            activity: activity,
            logger: logger
        )
        return Application(
            router: router,
            server: http1LiveServer(configuration, live: live),
            configuration: serverConfiguration,
            services: services,
            onServerRunning: onServerRunning,
            logger: logger
        )
    }
}

/// Answers `400 bad_request` to a request whose query string is longer than the server's
/// ``FerryLog/ServerConfiguration/maxQueryBytes``.
struct QueryLimitMiddleware: RouterMiddleware {
    let maxQueryBytes: Int

    func handle(
        _ request: Request,
        context: FerryRequestContext,
        next: (Request, FerryRequestContext) async throws -> Response
    ) async throws -> Response {
        if let query = request.uri.query, query.utf8.count > maxQueryBytes {
            throw FerryError(.badRequest, "the query string is \(query.utf8.count) bytes; at most \(maxQueryBytes) are accepted")
        }
        return try await next(request, context)
    }
}

/// The body of `GET /healthz`.
struct HealthStatus: Codable, Sendable {
    var status: String
    var error: ErrorResponse.Detail?
}
