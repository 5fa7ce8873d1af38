import FerryCore
import FerryLog
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The PostgreSQL database several Ferry servers share: a connection pool, the schema
/// migrations, and the listener that hears other servers' commits.
///
/// It is a `Service`: ``run()`` runs the pool and the listener until the service group
/// shuts down. Run it before serving requests (put it in the same `ServiceGroup` as the
/// HTTP server).
public final class PostgresBackend: Service, Sendable {
    /// Where the database is and how the pool uses it.
    public struct Configuration: Sendable {
        /// `postgresql://user[:password]@host[:port]/database`.
        public var url: String
        /// The most connections this server opens. Default 20.
        public var maximumConnections: Int
        /// How long one storage operation may take before the request answers `503`. Default 5 seconds.
        public var operationTimeout: Duration
        /// How long opening a connection may take. Default 3 seconds.
        public var connectTimeout: Duration
        /// The pauses between attempts to migrate the schema, or to listen again for commits,
        /// while the database cannot be reached. Default 200 ms doubling up to 5 s, no jitter.
        public var retry: BackoffPolicy

        /// Creates a configuration with the documented defaults.
        public init(
            url: String,
            maximumConnections: Int = 20,
            operationTimeout: Duration = .seconds(5),
            connectTimeout: Duration = .seconds(3),
            retry: BackoffPolicy = BackoffPolicy(base: .milliseconds(200), maximum: .seconds(5), jitter: 0)
        ) {
            self.url = url
            self.maximumConnections = maximumConnections
            self.operationTimeout = operationTimeout
            self.connectTimeout = connectTimeout
            self.retry = retry
        }
    }

    /// The pool of connections.
    public let client: PostgresClient
    /// How long one storage operation may take before the request answers `503`.
    public var operationTimeout: Duration { configuration.operationTimeout }
    /// The settings the backend was created with.
    public let configuration: Configuration
    let logger: Logger
    /// Times operations and the pauses between retries.
    private let clock: any Clock<Duration>
    /// Receives every commit announced on the `ferry_commits` channel, by any server.
    let onCommit: @Sendable (String, Int64) -> Void
    private let isReady = Atomic(false)

    /// The advisory lock several servers starting at once queue on to migrate the schema once.
    static let migrationLock: Int64 = 72_707_370

    /// The channel on which a push's transaction announces the new head, as `"<head> <space>"`.
    static let commitChannel = "ferry_commits"

    /// Creates the pool for `configuration.url`.
    /// - Parameters:
    ///   - clock: Times operations (``Configuration/operationTimeout``) and the pauses
    ///     between retries.
    ///   - logger: Receives the pool's and the retries' messages. Default: none.
    ///   - onCommit: Called with the space and its new head for every commit announced on the
    ///     commit channel, by any server (wire it to the ``FerryLog/CommitWatcher`` of the
    ///     event log).
    /// - Throws: ``FerryCore/FerryError`` when the URL is not a PostgreSQL URL.
    public init(
        configuration: Configuration,
        clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger = Logger(label: "ferry.postgres", factory: { _ in SwiftLogNoOpLogHandler() }),
        onCommit: @escaping @Sendable (String, Int64) -> Void = { _, _ in }
    ) throws {
        var clientConfiguration = try Self.configuration(from: configuration.url)
        clientConfiguration.options.maximumConnections = configuration.maximumConnections
        let connect = configuration.connectTimeout.components
        clientConfiguration.options.connectTimeout = .nanoseconds(connect.seconds * 1_000_000_000 + connect.attoseconds / 1_000_000_000)
        self.client = PostgresClient(configuration: clientConfiguration, backgroundLogger: logger)
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.onCommit = onCommit
    }

    /// Parses a `postgresql://` or `postgres://` URL; TLS is not used (the servers share a
    /// private network with the database).
    static func configuration(from url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty
        else {
            throw FerryError(.badRequest, "'\(url)' is not a postgresql://user@host:port/database URL")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        return PostgresClient.Configuration(
            host: host,
            port: components.port ?? 5432,
            username: components.user ?? "postgres",
            password: components.password,
            database: database.isEmpty ? nil : database,
            tls: .disable
        )
    }

    /// Runs the pool, migrates the schema (retrying while the database cannot be reached),
    /// then listens for commits, until cancelled or shut down gracefully. Until the schema
    /// is migrated, storage operations answer `503`.
    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.client.run() }
            group.addTask {
                await cancelWhenGracefulShutdown {
                    await self.migrateUntilDone()
                    await self.listenForCommits()
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Runs only the connection pool, for a short task that migrates with ``migrate()`` itself.
    public func runPool() async {
        await client.run()
    }

    private func migrateUntilDone() async {
        var failures = 0
        while !Task.isCancelled {
            do {
                try await migrate()
                return
            } catch {
                logger.warning("migrating the schema failed; retrying", metadata: ["error": "\(String(reflecting: error))"])
            }
            failures += 1
            try? await clock.sleep(for: configuration.retry.nominalDelay(afterFailures: failures))
        }
    }

    /// Listens on a connection of its own; when the connection dies, listens again after a
    /// short pause, until cancelled.
    private func listenForCommits() async {
        let failures = Mutex(0)
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: Self.commitChannel) { notifications in
                        failures.withLock { $0 = 0 }
                        for try await notification in notifications {
                            let parts = notification.payload.split(separator: " ", maxSplits: 1)
                            if parts.count == 2, let head = Int64(parts[0]) { self.onCommit(String(parts[1]), head) }
                        }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("listening for commits failed; retrying", metadata: ["error": "\(String(reflecting: error))"])
            }
            let failed = failures.withLock { count in
                count += 1
                return count
            }
            try? await clock.sleep(for: configuration.retry.nominalDelay(afterFailures: failed))
        }
    }

    /// Applies the schema migrations this version knows, once, even when several servers
    /// start at the same time (they queue on an advisory lock).
    public func migrate() async throws {
        try await perform(beforeReady: true) { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.migrationLock))", logger: self.logger)
            do {
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS ferry_schema (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                    logger: self.logger
                )
                var applied = Set<Int>()
                for try await version in try await connection.query("SELECT version FROM ferry_schema", logger: self.logger)
                    .decode(Int.self)
                {
                    applied.insert(version)
                }
                for (version, statements) in Self.migrations where !applied.contains(version) {
                    try await connection.withTransaction(logger: self.logger) { connection in
                        for statement in statements {
                            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                        }
                        try await connection.query("INSERT INTO ferry_schema (version) VALUES (\(version))", logger: self.logger)
                    }
                    self.logger.info("migrated the schema", metadata: ["version": "\(version)"])
                }
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLock))", logger: self.logger)
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLock))", logger: self.logger)
        }
        isReady.store(true, ordering: .releasing)
    }

    /// The schema's history, by version; a later version adds entries, never edits these.
    static let migrations: [(Int, [String])] = [
        (
            1,
            [
                """
                CREATE TABLE space (
                    id BIGSERIAL PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE,
                    log_id TEXT NOT NULL,
                    head_seq BIGINT NOT NULL DEFAULT 0,
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE mutation (
                    space_id BIGINT NOT NULL REFERENCES space(id),
                    seq BIGINT NOT NULL,
                    device_id TEXT NOT NULL,
                    session_id TEXT NOT NULL,
                    client_action_id BIGINT NOT NULL,
                    entity TEXT NOT NULL,
                    entity_key TEXT NOT NULL,
                    op TEXT NOT NULL,
                    payload TEXT,
                    base_seq BIGINT,
                    client_timestamp TEXT,
                    occurred_at BIGINT NOT NULL,
                    PRIMARY KEY (space_id, seq)
                )
                """,
                "CREATE UNIQUE INDEX mutation_triple ON mutation (space_id, device_id, session_id, client_action_id)",
                """
                CREATE TABLE record_head (
                    space_id BIGINT NOT NULL,
                    entity TEXT NOT NULL,
                    entity_key TEXT NOT NULL,
                    seq BIGINT NOT NULL,
                    device_id TEXT NOT NULL,
                    other_seq BIGINT NOT NULL,
                    PRIMARY KEY (space_id, entity, entity_key)
                )
                """,
                """
                CREATE TABLE token_grant (
                    id TEXT PRIMARY KEY,
                    spaces TEXT NOT NULL,
                    access_ttl BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    revoked_at BIGINT
                )
                """,
                """
                CREATE TABLE token (
                    hash TEXT PRIMARY KEY,
                    grant_id TEXT NOT NULL REFERENCES token_grant(id),
                    kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
                    expires_at BIGINT,
                    used_at BIGINT,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX token_by_grant ON token (grant_id)",
            ]
        ),
        (
            2,
            [
                // The dedup index leads with the device, so that the duplicate lookup of a push
                // names no space: then the log's primary key (space_id, seq) is no candidate,
                // and the planner cannot mistake a space its statistics have not seen yet for
                // a tiny one and scan the space's rows once per mutation looked up.
                "CREATE UNIQUE INDEX mutation_triple_by_device ON mutation (device_id, session_id, client_action_id, space_id)",
                "DROP INDEX mutation_triple",
            ]
        ),
        (
            3,
            [
                // Keyed by the space's name, not its row, and beside the log id they were acked
                // against: a log that is replaced finds the old checkpoints and resets the device.
                """
                CREATE TABLE stream_checkpoint (
                    space TEXT NOT NULL,
                    device_id TEXT NOT NULL,
                    type TEXT NOT NULL,
                    seq BIGINT NOT NULL,
                    log_id TEXT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (space, device_id, type)
                )
                """
            ]
        ),
        (
            4,
            [
                // Snapshots and retention (`PostgresEventLog+Snapshot.swift`). Entity and key
                // compare as "C" (UTF-8 bytes): the order snapshots list records in, which the
                // primary key then serves to scans and keyset pages.
                "ALTER TABLE space ADD COLUMN floor_seq BIGINT NOT NULL DEFAULT 0, ADD COLUMN state_seq BIGINT NOT NULL DEFAULT 0",
                """
                CREATE TABLE snapshot_state (
                    space_id BIGINT NOT NULL,
                    entity TEXT COLLATE "C" NOT NULL,
                    entity_key TEXT COLLATE "C" NOT NULL,
                    payload BYTEA NOT NULL,
                    seq BIGINT NOT NULL,
                    PRIMARY KEY (space_id, entity, entity_key)
                )
                """,
                """
                CREATE TABLE snapshot_chunk (
                    space_id BIGINT NOT NULL,
                    id TEXT NOT NULL,
                    records BIGINT NOT NULL,
                    bytes BIGINT NOT NULL,
                    body BYTEA NOT NULL,
                    created_at BIGINT NOT NULL,
                    stored_at BIGINT NOT NULL,
                    PRIMARY KEY (space_id, id)
                )
                """,
                """
                CREATE TABLE snapshot_manifest (
                    space_id BIGINT NOT NULL,
                    snapshot_seq BIGINT NOT NULL,
                    version INTEGER NOT NULL,
                    log_id TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    superseded_at BIGINT,
                    PRIMARY KEY (space_id, snapshot_seq)
                )
                """,
                """
                CREATE TABLE snapshot_manifest_chunk (
                    space_id BIGINT NOT NULL,
                    snapshot_seq BIGINT NOT NULL,
                    position INTEGER NOT NULL,
                    chunk_id TEXT NOT NULL,
                    PRIMARY KEY (space_id, snapshot_seq, position)
                )
                """,
                "CREATE INDEX snapshot_manifest_chunk_by_chunk ON snapshot_manifest_chunk (space_id, chunk_id)",
                """
                CREATE TABLE pruned_triple_run (
                    space_id BIGINT NOT NULL,
                    device_id TEXT NOT NULL,
                    session_id TEXT NOT NULL,
                    first_action_id BIGINT NOT NULL,
                    last_action_id BIGINT NOT NULL,
                    first_seq BIGINT NOT NULL,
                    PRIMARY KEY (space_id, device_id, session_id, first_action_id)
                )
                """,
            ]
        ),
        (
            5,
            [
                // An admin grant's tokens reach the /admin routes and no space; every grant
                // made before is a grant of spaces.
                "ALTER TABLE token_grant ADD COLUMN admin BOOLEAN NOT NULL DEFAULT false"
            ]
        ),
    ]

    /// Runs `body` on a pooled connection within ``operationTimeout``; a database that cannot
    /// be reached or is restarting becomes `FerryError(.unavailable)` (`503`).
    func perform<T: Sendable>(
        beforeReady: Bool = false,
        timeout: Duration? = nil,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let timeout = timeout ?? operationTimeout
        guard beforeReady || isReady.load(ordering: .acquiring) else {
            throw FerryError(.unavailable, "the database schema is not migrated yet")
        }
        do {
            return try await withDeadline(timeout, clock: clock) { try await self.client.withConnection(body) }
        } catch let error as FerryError {
            throw error
        } catch let error as PSQLError where !Self.isOutage(error) {
            // The database answered: a fault of the query, not an outage.
            throw error
        } catch {
            // Connection errors, the pool's circuit breaker, cancellation: the database cannot
            // be reached now.
            throw FerryError(.unavailable, "the database is unavailable, retry later", underlying: error)
        }
    }

    /// Runs `body` in a transaction on a pooled connection, as ``perform(_:)`` does. A
    /// ``FerryCore/FerryError`` that `body` throws rolls the transaction back and is thrown
    /// as it is (a decision of the store, such as a `conflict`, not an outage).
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await perform { connection in
            do {
                return try await connection.withTransaction(logger: self.logger) { connection in try await body(connection) }
            } catch let error as PostgresTransactionError {
                if error.rollbackError == nil, let refusal = error.closureError as? FerryError { throw refusal }
                throw error
            }
        }
    }

    /// Whether `error` means the database cannot be reached now, rather than a fault of the query.
    static func isOutage(_ error: PSQLError) -> Bool {
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed,
            .queryCancelled:
            return true
        case .server:
            // Class 08: connection exception; 57: operator intervention (shutdown); 53: insufficient resources.
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state.hasPrefix("57") || state.hasPrefix("53")
        default:
            return false
        }
    }
}
