import AsyncHTTPClient
import FerryCore
import FerryServer
import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// A wall clock that tests move by hand.
public final class ManualWallClock: Sendable {
    private let now: Mutex<Int64>

    public init(_ start: Int64 = 1_790_000_000_000) { now = Mutex(start) }

    public func advance(seconds: Int64) { now.withLock { $0 += seconds * 1000 } }

    public var clock: WallClock { WallClock { [self] in self.now.withLock { $0 } } }
}

/// A temporary folder, removed when the last copy goes away.
public final class TemporaryFolder: Sendable {
    public let url: URL

    public init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// An HTTP answer, read whole.
public struct HTTPAnswer: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: Data

    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: body)
        } catch {
            throw DecodeFailure(message: "could not decode \(T.self) from \(status) \(text): \(error)")
        }
    }

    /// The protocol error code of an error body, or `nil`.
    public var errorCode: String? { (try? JSONDecoder().decode(ErrorResponse.self, from: body))?.error.code.rawValue }

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A body that was not what a test expected.
public struct DecodeFailure: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Sends requests to a Ferry server over real HTTP.
public struct FerryTestClient: Sendable {
    public let baseURL: String
    public let client: HTTPClient

    public init(baseURL: String, client: HTTPClient) {
        self.baseURL = baseURL
        self.client = client
    }

    public func request(
        _ method: HTTPMethod,
        _ path: String,
        token: String? = nil,
        body: Data? = nil,
        headers extra: [(String, String)] = [],
        timeout: TimeAmount = .seconds(30)
    ) async throws -> HTTPAnswer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in extra { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await client.execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return HTTPAnswer(status: Int(response.status.code), headers: response.headers, body: Data(buffer: bytes))
    }

    public func push(_ push: PushRequest, token: String, timeout: TimeAmount = .seconds(30)) async throws -> HTTPAnswer {
        try await request(.POST, "/sync/mutations/push", token: token, body: try JSONEncoder().encode(push), timeout: timeout)
    }

    public func pull(_ query: String, token: String) async throws -> HTTPAnswer {
        try await request(.GET, "/sync/mutations/pull?\(query)", token: token)
    }

    /// Runs `body` with an HTTP client that is shut down when it returns.
    public static func withHTTPClient<T: Sendable>(_ body: (HTTPClient) async throws -> T) async throws -> T {
        let client = makeHTTPClient()
        let result: Result<T, any Error>
        do {
            result = .success(try await body(client))
        } catch {
            result = .failure(error)
        }
        try await client.shutdown()
        return try result.get()
    }

    public static func makeHTTPClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }
}

/// A Ferry server on a temporary SQLite file, and a way to send it requests: over real HTTP
/// on 127.0.0.1 (``with(configuration:jwt:wallClock:commitWatcherClock:_:)``), or straight to its
/// router with HummingbirdTesting's `.router` framework, with no socket at all
/// (``inProcess(configuration:jwt:wallClock:commitWatcherClock:_:)``).
public struct TestServer: Sendable {
    /// One header field (HTTPTypes' `HTTPField`, which Hummingbird does not re-export by name).
    private typealias HeaderField = HTTPFields.Element

    /// How requests reach the server.
    enum Connection: Sendable {
        case loopback(FerryTestClient)
        case inProcess(any TestClientProtocol)
    }

    let connection: Connection
    public let eventLog: SQLiteEventLog
    public let tokens: SQLiteTokenStore
    public let database: SQLiteDatabase
    /// The long-polls held by the server, as its commit watcher reports them.
    public let waiters: LongPollWaiters
    /// Takes the server's event log down and back up.
    public let outage: StorageOutage

    /// The HTTP client of a loopback server, for code that needs a base URL.
    /// - Precondition: the server was started with ``with(configuration:jwt:wallClock:commitWatcherClock:_:)``.
    public var http: FerryTestClient {
        guard case .loopback(let client) = connection else {
            preconditionFailure("an in-process TestServer has no socket: start it with TestServer.with")
        }
        return client
    }

    /// Issues a token for `spaces` and answers its access token.
    public func token(_ spaces: String...) async throws -> String {
        try await tokens.issue(spaces: spaces, accessTTL: 3600).accessToken
    }

    public func request(
        _ method: HTTPMethod,
        _ path: String,
        token: String? = nil,
        body: Data? = nil,
        headers: [(String, String)] = [],
        timeout: TimeAmount = .seconds(30)
    ) async throws -> HTTPAnswer {
        switch connection {
        case .loopback(let http):
            return try await http.request(method, path, token: token, body: body, headers: headers, timeout: timeout)
        case .inProcess(let client):
            var fields = HTTPFields()
            if let token { fields.append(HeaderField(name: .authorization, value: "Bearer \(token)")) }
            for (name, value) in headers {
                guard let name = HeaderField.Name(name) else { throw DecodeFailure(message: "bad header name \(name)") }
                fields.append(HeaderField(name: name, value: value))
            }
            if body != nil { fields[.contentType] = "application/json" }
            let response = try await client.executeRequest(
                uri: path,
                method: HTTPRequest.Method(rawValue: method.rawValue)!,
                headers: fields,
                body: body.map { ByteBuffer(bytes: $0) }
            )
            var answerHeaders = HTTPHeaders()
            for field in response.headers { answerHeaders.add(name: field.name.rawName, value: field.value) }
            return HTTPAnswer(status: Int(response.status.code), headers: answerHeaders, body: Data(buffer: response.body))
        }
    }

    public func push(_ push: PushRequest, token: String) async throws -> HTTPAnswer {
        try await request(.POST, "/sync/mutations/push", token: token, body: try JSONEncoder().encode(push))
    }

    public func pull(_ query: String, token: String) async throws -> HTTPAnswer {
        try await request(.GET, "/sync/mutations/pull?\(query)", token: token)
    }

    /// The number of mutations stored in all spaces, read from the database itself.
    public func storedMutationCount() async throws -> Int {
        try await database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM mutation") ?? 0 }
    }

    /// The stores and application of a test server, before it is connected.
    private struct Parts<App: ApplicationProtocol> {
        var folder: TemporaryFolder
        var eventLog: SQLiteEventLog
        var tokens: SQLiteTokenStore
        var database: SQLiteDatabase
        var waiters: LongPollWaiters
        var outage: StorageOutage
        var app: App
        var logger: Logger
    }

    private static func makeParts(
        configuration: ServerConfiguration,
        jwt: JWTAuthenticator?,
        wallClock: WallClock,
        commitWatcherClock: any Clock<Duration>,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws -> Parts<some ApplicationProtocol> {
        let folder = try TemporaryFolder()
        let database = try SQLiteDatabase(
            configuration: SQLiteConfiguration(path: folder.path("ferry.sqlite"), durability: .normal)
        )
        let metrics = ServerMetrics()
        let waiters = LongPollWaiters()
        let eventLog = SQLiteEventLog(
            database: database,
            watcher: CommitWatcher(clock: commitWatcherClock) { delta in
                metrics.waitersChanged(by: delta)
                waiters.changed(by: delta)
            },
            clock: wallClock
        )
        let tokens = SQLiteTokenStore(database: database, clock: wallClock)
        let outage = StorageOutage()
        var logger = Logger(label: "ferry-test")
        logger.logLevel = .warning
        let app = FerryApplication.makeApplication(
            eventLog: OutageEventLog(base: eventLog, outage: outage),
            tokens: tokens,
            jwt: jwt,
            metrics: metrics,
            configuration: configuration,
            activity: ServerActivity(clock: wallClock),
            serverConfiguration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            logger: logger,
            onServerRunning: onServerRunning
        )
        return Parts(
            folder: folder,
            eventLog: eventLog,
            tokens: tokens,
            database: database,
            waiters: waiters,
            outage: outage,
            app: app,
            logger: logger
        )
    }

    /// Runs `body` with a server that answers requests straight from its router, through
    /// HummingbirdTesting's `.router` framework: no socket, no event loop, no port.
    public static func inProcess<T: Sendable>(
        configuration: ServerConfiguration = ServerConfiguration(),
        jwt: JWTAuthenticator? = nil,
        wallClock: WallClock = .system,
        commitWatcherClock: any Clock<Duration> = ContinuousClock(),
        _ body: @Sendable (TestServer) async throws -> T
    ) async throws -> T {
        let parts = try makeParts(configuration: configuration, jwt: jwt, wallClock: wallClock, commitWatcherClock: commitWatcherClock)
        let (eventLog, tokens, database, waiters, outage) = (parts.eventLog, parts.tokens, parts.database, parts.waiters, parts.outage)
        let result = try await parts.app.test(.router) { client in
            try await body(
                TestServer(
                    connection: .inProcess(client),
                    eventLog: eventLog,
                    tokens: tokens,
                    database: database,
                    waiters: waiters,
                    outage: outage
                )
            )
        }
        _ = parts.folder
        return result
    }

    /// Runs `body` with a server listening on 127.0.0.1 (a free port) and an HTTP client that
    /// talks to it over loopback; the server is shut down gracefully when `body` returns.
    public static func with<T: Sendable>(
        configuration: ServerConfiguration = ServerConfiguration(),
        jwt: JWTAuthenticator? = nil,
        wallClock: WallClock = .system,
        commitWatcherClock: any Clock<Duration> = ContinuousClock(),
        _ body: (TestServer) async throws -> T
    ) async throws -> T {
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let parts = try makeParts(
            configuration: configuration,
            jwt: jwt,
            wallClock: wallClock,
            commitWatcherClock: commitWatcherClock
        ) {
            channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
            portContinuation.finish()
        }
        let client = FerryTestClient.makeHTTPClient()
        let group = ServiceGroup(services: [parts.app], gracefulShutdownSignals: [], logger: parts.logger)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var ports = portStream.makeAsyncIterator()
            guard let port = await ports.next() else { throw FerryError(.internal, "server did not start") }
            let server = TestServer(
                connection: .loopback(FerryTestClient(baseURL: "http://127.0.0.1:\(port)", client: client)),
                eventLog: parts.eventLog,
                tokens: parts.tokens,
                database: parts.database,
                waiters: parts.waiters,
                outage: parts.outage
            )
            let result: Result<T, any Error>
            do {
                result = .success(try await body(server))
            } catch {
                result = .failure(error)
            }
            try? await client.shutdown()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            _ = parts.folder
            return try result.get()
        }
    }
}

/// The long-polls a test server holds, counted from its `CommitWatcher`'s
/// `onWaitersChanged`, so that a test waits for a pull to be held instead of sleeping.
public final class LongPollWaiters: Sendable {
    /// The counts at one moment.
    public struct Counts: Sendable {
        /// Waits in progress now.
        public var current = 0
        /// Waits started since the server started.
        public var started = 0
    }

    private struct Watch {
        var condition: @Sendable (Counts) -> Bool
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var counts = Counts()
        var watches: [Watch] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// The counts now.
    public var counts: Counts { state.withLock { $0.counts } }

    /// Records a wait starting (`+1`) or ending (`-1`); hand it to the commit watcher.
    @Sendable public func changed(by delta: Int) {
        let ready: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.counts.current += delta
            if delta > 0 { state.counts.started += delta }
            let counts = state.counts
            var ready: [CheckedContinuation<Void, Never>] = []
            state.watches.removeAll { watch in
                guard watch.condition(counts) else { return false }
                ready.append(watch.continuation)
                return true
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// Returns once `condition` holds for the counts (at once if it holds now).
    public func waitUntil(_ condition: @escaping @Sendable (Counts) -> Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if condition(state.counts) { return true }
                state.watches.append(Watch(condition: condition, continuation: continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Returns once `count` waits have started since the server started.
    public func waitUntilStarted(_ count: Int) async {
        await waitUntil { $0.started >= count }
    }
}

/// Shorthands for building requests.
extension PushRequest {
    public static func make(
        space: String,
        device: String = "dev-a",
        session: String = "s-1",
        _ mutations: [MutationInput]
    )
        -> PushRequest
    {
        PushRequest(space: space, deviceID: device, sessionID: session, mutations: mutations)
    }
}

extension MutationInput {
    public static func upsert(_ id: Int64, key: String, title: String = "t", baseSeq: Int64? = nil) -> MutationInput {
        MutationInput(
            clientActionID: id,
            entity: "note",
            entityKey: key,
            op: .upsert,
            payload: .object(["title": .string(title)]),
            baseSeq: baseSeq
        )
    }
}
