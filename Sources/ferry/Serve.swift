import ArgumentParser
import FerryCore
import FerryServer
import Foundation
import Hummingbird
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the sync log over HTTP.",
        discussion: """
            On its first start with an empty data folder, creates the space 'default' and prints
            a token for it. SIGINT and SIGTERM stop the server gracefully. Every option can also
            be set by its FERRY_ environment variable; a flag wins over the environment.
            """
    )

    @Option(name: .long, help: "Address to listen on (env FERRY_HOST, default 127.0.0.1).")
    var host: String?

    @Option(name: .long, help: "Port to listen on, 0 for any free port (env FERRY_PORT, default 8080).")
    var port: Int?

    @OptionGroup var storage: StorageOptions

    @Option(name: .long, help: "Largest request body in bytes (env FERRY_MAX_BODY_BYTES, default 8388608).")
    var maxBodyBytes: Int?

    @Option(name: .long, help: "Most mutations in one push (env FERRY_MAX_MUTATIONS_PER_PUSH, default 1000).")
    var maxMutationsPerPush: Int?

    @Option(name: .long, help: "Largest payload of one mutation in bytes (env FERRY_MAX_PAYLOAD_BYTES, default 1048576).")
    var maxPayloadBytes: Int?

    @Option(name: .long, help: "Largest pull page (env FERRY_MAX_PULL_LIMIT, default 5000).")
    var maxPullLimit: Int?

    @Option(name: .long, help: "Longest long-poll wait in seconds (env FERRY_MAX_WAIT_SECONDS, default 60).")
    var maxWaitSeconds: Int?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error (env FERRY_LOG_LEVEL, default info).")
    var logLevel: String?

    func run() async throws {
        let levelName = logLevel ?? Environment.value("FERRY_LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: levelName) else {
            throw ValidationError("log level must be one of trace, debug, info, notice, warning, error, critical")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "ferry")

        let defaults = ServerConfiguration()
        let configuration = ServerConfiguration(
            maxBodyBytes: try Environment.integer(maxBodyBytes, "FERRY_MAX_BODY_BYTES", default: defaults.maxBodyBytes),
            maxMutationsPerPush: try Environment.integer(
                maxMutationsPerPush,
                "FERRY_MAX_MUTATIONS_PER_PUSH",
                default: defaults.maxMutationsPerPush
            ),
            maxPayloadBytes: try Environment.integer(maxPayloadBytes, "FERRY_MAX_PAYLOAD_BYTES", default: defaults.maxPayloadBytes),
            defaultPullLimit: defaults.defaultPullLimit,
            maxPullLimit: try Environment.integer(maxPullLimit, "FERRY_MAX_PULL_LIMIT", default: defaults.maxPullLimit),
            maxWaitSeconds: try Environment.integer(maxWaitSeconds, "FERRY_MAX_WAIT_SECONDS", default: defaults.maxWaitSeconds)
        )
        let host = self.host ?? Environment.value("FERRY_HOST") ?? "127.0.0.1"
        let port = try Environment.integer(self.port, "FERRY_PORT", default: 8080)

        let metrics = ServerMetrics()
        let watcher = CommitWatcher(onWaitersChanged: metrics.waitersChanged(by:))
        let storage = try storage.open(watcher: watcher, logger: logger)
        // With PostgreSQL, the database service migrates the schema once it reaches the
        // database; several servers may share it, so none creates a default token.
        if storage.postgres == nil, try await storage.tokens.grants().isEmpty {
            // A first start of a single server: no grant was ever issued (a start that died
            // before issuing one counts as not having happened).
            _ = try await storage.eventLog.read(space: "default", since: 0, limit: 1, excludingDevice: nil)
            let issued = try await storage.tokens.issue(spaces: ["default"], accessTTL: Token.Create.defaultTTL)
            print(
                """
                New data folder \(self.storage.dataFolder): created space 'default' and a token for it.
                This is shown once; keep it.
                  access token:  \(issued.accessToken)
                  refresh token: \(issued.refreshToken)
                  expires in:    \(issued.expiresIn) s
                """
            )
        }
        let storageDescription = storage.postgres == nil ? "data: \(self.storage.dataFolder)" : "postgres"

        let app = FerryApplication.makeApplication(
            eventLog: storage.eventLog,
            tokens: storage.tokens,
            metrics: metrics,
            configuration: configuration,
            serverConfiguration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "ferry"),
            services: storage.services,
            logger: logger
        ) { channel in
            let bound = channel.localAddress?.port ?? port
            print("Ferry listening on http://\(host):\(bound) (\(storageDescription))")
            fflush(nil)  // stdout may be a pipe: flush so that a supervisor sees the line now
        }
        try await app.runService()
        logger.info("ferry stopped")
    }
}
