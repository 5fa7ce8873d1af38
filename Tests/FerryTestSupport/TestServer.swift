import AsyncHTTPClient
import FerryCore
import FerryServer
import Foundation
import Hummingbird
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

/// A real Ferry server on 127.0.0.1 with a free port and a temporary SQLite file, and an
/// HTTP client that talks to it over loopback.
public struct TestServer: Sendable {
    public let http: FerryTestClient
    public let eventLog: SQLiteEventLog
    public let tokens: SQLiteTokenStore
    public let database: SQLiteDatabase

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
        try await http.request(method, path, token: token, body: body, headers: headers, timeout: timeout)
    }

    public func push(_ push: PushRequest, token: String) async throws -> HTTPAnswer {
        try await http.push(push, token: token)
    }

    public func pull(_ query: String, token: String) async throws -> HTTPAnswer {
        try await http.pull(query, token: token)
    }

    /// The number of mutations stored in all spaces, read from the database itself.
    public func storedMutationCount() async throws -> Int {
        try await database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM mutation") ?? 0 }
    }

    /// Runs `body` with a server that is shut down when it returns.
    public static func with<T: Sendable>(
        configuration: ServerConfiguration = ServerConfiguration(),
        wallClock: WallClock = .system,
        _ body: (TestServer) async throws -> T
    ) async throws -> T {
        let folder = try TemporaryFolder()
        let database = try SQLiteDatabase(
            configuration: SQLiteConfiguration(path: folder.path("ferry.sqlite"), durability: .normal)
        )
        let metrics = ServerMetrics()
        let eventLog = SQLiteEventLog(
            database: database,
            watcher: CommitWatcher(onWaitersChanged: metrics.waitersChanged(by:)),
            clock: wallClock
        )
        let tokens = SQLiteTokenStore(database: database, clock: wallClock)
        var logger = Logger(label: "ferry-test")
        logger.logLevel = .warning
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = FerryApplication.makeApplication(
            eventLog: eventLog,
            tokens: tokens,
            metrics: metrics,
            configuration: configuration,
            serverConfiguration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            logger: logger
        ) { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
            portContinuation.finish()
        }
        let client = FerryTestClient.makeHTTPClient()
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var ports = portStream.makeAsyncIterator()
            guard let port = await ports.next() else { throw FerryError(.internal, "server did not start") }
            let server = TestServer(
                http: FerryTestClient(baseURL: "http://127.0.0.1:\(port)", client: client),
                eventLog: eventLog,
                tokens: tokens,
                database: database
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
            _ = folder
            return try result.get()
        }
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
