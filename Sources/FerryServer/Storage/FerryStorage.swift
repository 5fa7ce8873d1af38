import FerryCore
import FerryLog
import Logging
import ServiceLifecycle

/// A server's storage, opened from a ``Configuration``: the event log, the token store, and
/// the services they need running.
///
/// This is how an app embeds a server: open the storage, give it to
/// ``FerryApplication/makeApplication(storage:metrics:configuration:serverConfiguration:logger:onServerRunning:)``,
/// and run the application; ``bootstrap(space:accessTTL:)`` does what `ferry serve` does on a
/// first start.
///
/// ```swift
/// let metrics = ServerMetrics()
/// let storage = try FerryStorage(.sqlite(SQLiteConfiguration(path: "data/ferry.sqlite")), metrics: metrics, logger: logger)
/// if let issued = try await storage.bootstrap() { print("token for 'default':", issued.accessToken) }
/// let app = FerryApplication.makeApplication(
///     storage: storage,
///     metrics: metrics,
///     serverConfiguration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 8080)),
///     logger: logger
/// )
/// try await app.runService()
/// ```
public struct FerryStorage: Sendable {
    /// Where a server keeps its logs and its tokens.
    public struct Configuration: Sendable, CustomStringConvertible {
        enum Choice: Sendable {
            case sqlite(SQLiteConfiguration)
            case postgres(url: String, maximumConnections: Int, operationTimeout: Duration)
            case memory(tokens: SQLiteConfiguration)
        }

        let choice: Choice

        /// Logs and tokens in one SQLite file, for a single server.
        public static func sqlite(_ configuration: SQLiteConfiguration) -> Configuration {
            Configuration(choice: .sqlite(configuration))
        }

        /// Logs and tokens in the PostgreSQL database at `url`
        /// (`postgresql://user[:password]@host[:port]/database`), shared by several servers.
        /// - Parameters:
        ///   - maximumConnections: The most connections this server opens. Default 20.
        ///   - operationTimeout: How long one storage operation may take before the request
        ///     answers `503`. Default 5 seconds.
        public static func postgres(url: String, maximumConnections: Int = 20, operationTimeout: Duration = .seconds(5)) -> Configuration {
            Configuration(choice: .postgres(url: url, maximumConnections: maximumConnections, operationTimeout: operationTimeout))
        }

        /// Logs in memory, lost when the process ends (for demos and tests), and tokens in the
        /// SQLite file of `tokensAt`, so that tokens made for it (by `ferry token create`, say)
        /// outlive a restart while every log starts empty again with a new `log_id`.
        public static func memory(tokensAt tokens: SQLiteConfiguration) -> Configuration {
            Configuration(choice: .memory(tokens: tokens))
        }

        /// Whether several servers may share the storage (PostgreSQL); such storage is never
        /// bootstrapped.
        public var isShared: Bool {
            if case .postgres = choice { return true }
            return false
        }

        /// Whether the logs live in memory, lost when the process ends.
        public var isInMemory: Bool {
            if case .memory = choice { return true }
            return false
        }

        /// The storage in a few words, without secrets: `sqlite: PATH`, `postgres`, or
        /// `memory, tokens: PATH`.
        public var description: String {
            switch choice {
            case .sqlite(let configuration): "sqlite: \(configuration.path)"
            case .postgres: "postgres"
            case .memory(let tokens): "memory, tokens: \(tokens.path)"
            }
        }
    }

    /// What the storage was opened from.
    public let configuration: Configuration
    /// The log of every space.
    public let eventLog: any EventLog
    /// The tokens and their grants.
    public let tokens: any TokenStore
    /// The PostgreSQL pool behind both, when the storage is PostgreSQL.
    public let postgres: PostgresBackend?

    /// Opens the storage of `configuration`: SQLite files are created and migrated now; a
    /// PostgreSQL pool is made but connects and migrates only once ``services`` (or
    /// ``whileRunning(_:)``) run.
    /// - Parameters:
    ///   - watcher: Wakes long-poll waiters after each commit; with PostgreSQL it also hears
    ///     the commits of the other servers on the same database.
    ///   - logger: Where PostgreSQL's pool logs.
    public init(_ configuration: Configuration, watcher: CommitWatcher = CommitWatcher(), logger: Logger) throws {
        self.configuration = configuration
        switch configuration.choice {
        case .sqlite(let sqlite):
            let database = try SQLiteDatabase(configuration: sqlite)
            eventLog = SQLiteEventLog(database: database, watcher: watcher)
            tokens = SQLiteTokenStore(database: database)
            postgres = nil
        case .postgres(let url, let maximumConnections, let operationTimeout):
            let database = try PostgresBackend(
                configuration: .init(url: url, maximumConnections: maximumConnections, operationTimeout: operationTimeout),
                logger: logger
            ) { space, head in
                watcher.publish(space: space, head: head)
            }
            eventLog = PostgresEventLog(database: database, watcher: watcher)
            tokens = PostgresTokenStore(database: database)
            postgres = database
        case .memory(let sqlite):
            eventLog = MemoryEventLog(watcher: watcher)
            tokens = SQLiteTokenStore(database: try SQLiteDatabase(configuration: sqlite))
            postgres = nil
        }
    }

    /// Opens the storage of `configuration` with a ``CommitWatcher`` that reports its
    /// long-poll waiters to `metrics` (the `ferry_longpoll_waiters` gauge), as a server does.
    public init(_ configuration: Configuration, metrics: ServerMetrics, logger: Logger) throws {
        try self.init(configuration, watcher: CommitWatcher(onWaitersChanged: metrics.waitersChanged(by:)), logger: logger)
    }

    /// The services the storage needs running while a server uses it: the PostgreSQL pool,
    /// which migrates the schema and listens for other servers' commits; none otherwise.
    public var services: [any Service] { postgres.map { [$0] } ?? [] }

    /// Runs `body` with the storage ready: for PostgreSQL, its pool runs and its schema is
    /// migrated first, and the pool stops when `body` returns. For short tasks (issuing a
    /// token, say); a server runs ``services`` instead.
    public func whileRunning<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let postgres else { return try await body() }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await postgres.runPool()
                return nil
            }
            defer { group.cancelAll() }
            try await postgres.migrate()
            return try await body()
        }
    }

    /// The first start of a single server: when no grant was ever issued, creates the log of
    /// `space` and issues a token for it, and answers the token (show it to the operator once:
    /// it is not stored in clear). Answers `nil` on every later start, and always for shared
    /// storage (PostgreSQL), where several servers may start at once and tokens are made with
    /// `ferry token create`.
    ///
    /// A start that died before issuing the token counts as not having happened: the next
    /// one issues it.
    /// - Parameters:
    ///   - space: The space to create. Default `default`.
    ///   - accessTTL: The access token's lifetime in seconds. Default one day.
    public func bootstrap(space: String = "default", accessTTL: Int64 = 86_400) async throws -> IssuedTokens? {
        guard !configuration.isShared, try await tokens.grants().isEmpty else { return nil }
        _ = try await eventLog.read(space: space, since: 0, limit: 1, excludingDevice: nil)
        return try await tokens.issue(spaces: [space], accessTTL: accessTTL)
    }
}
