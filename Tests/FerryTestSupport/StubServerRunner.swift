import FerryCore
import Hummingbird
import Logging
import ServiceLifecycle

/// Runs `body` with a Hummingbird server of `router` listening on a free port of 127.0.0.1,
/// given its base URL; the server shuts down gracefully when `body` returns or throws.
public func runStubServer<T: Sendable>(
    _ router: Router<BasicRequestContext>,
    label: String,
    _ body: (String) async throws -> T
) async throws -> T {
    try await runStubServer(responder: router.buildResponder(), label: label, body)
}

/// Runs `body` with a Hummingbird server of `responder` listening on a free port of
/// 127.0.0.1, given its base URL (`http://127.0.0.1:PORT`); the server shuts down gracefully
/// when `body` returns or throws.
public func runStubServer<T: Sendable, Responder: HTTPResponder>(
    responder: Responder,
    label: String,
    _ body: (String) async throws -> T
) async throws -> T where Responder.Context == BasicRequestContext {
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    var logger = Logger(label: label)
    logger.logLevel = .critical
    let app = Application(
        responder: responder,
        configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in
            continuation.yield(channel.localAddress?.port ?? 0)
            continuation.finish()
        },
        logger: logger
    )
    let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw FerryError(.internal, "the stub server did not start") }
        let result: Result<T, any Error>
        do {
            result = .success(try await body("http://127.0.0.1:\(port)"))
        } catch {
            result = .failure(error)
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return try result.get()
    }
}
