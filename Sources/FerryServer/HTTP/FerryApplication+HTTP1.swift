import FerryLog
import Hummingbird
import HummingbirdCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import ServiceLifecycle
@_spi(WSInternal) import WSCore

extension FerryApplication {
    /// The HTTP/1 server of a Ferry application: Hummingbird's idle timeout (which also bounds a
    /// request head that does not arrive, and a body that stops arriving), the decoder's
    /// limits on the request line and header fields, and ``ParseErrorResponder`` so that a
    /// request over those limits gets the protocol's error body instead of an empty `400`.
    public static func http1Server(_ configuration: FerryLog.ServerConfiguration) -> HTTPServerBuilder {
        .http1(configuration: http1Configuration(configuration))
    }

    /// The HTTP/1 channel's settings of ``http1Server(_:)``.
    static func http1Configuration(_ configuration: FerryLog.ServerConfiguration) -> HTTP1Channel.Configuration {
        let maxHeaderBytes = configuration.maxHeaderBytes
        return HTTP1Channel.Configuration(
            additionalChannelHandlers: [ParseErrorResponder(maxHeaderBytes: maxHeaderBytes)],
            idleTimeout: TimeAmount(configuration.idleTimeout),
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: maxHeaderBytes,
                maxHeaderListSize: maxHeaderBytes,
                maxHeaderFieldCount: ParseErrorResponder.maxHeaderFields
            )
        )
    }

    /// ``http1Server(_:)`` with the live channel's WebSocket upgrade (``LiveUpgradeChannel``).
    static func http1LiveServer(_ configuration: FerryLog.ServerConfiguration, live: LiveChannel) -> HTTPServerBuilder {
        let http1 = http1Configuration(configuration)
        return HTTPServerBuilder { responder in
            LiveUpgradeChannel(responder: responder, http1: http1, live: live, pingInterval: configuration.livePingInterval)
        }
    }
}

/// An HTTP/1 channel that upgrades `GET /sync/mutations/live` to a WebSocket once
/// ``LiveChannel/admit(_:)`` admits it. Unlike Hummingbird's `HTTP1WebSocketUpgradeChannel`
/// (which answers a refused upgrade with an empty `400`), a refused upgrade request is handed
/// to the router as an ordinary request, so that it is answered with the protocol's error
/// (`401`, `403`, `409`, `410`, `429`...) by the route of the same path.
struct LiveUpgradeChannel: ServerChildChannel, HTTPChannelHandler {
    enum UpgradeResult: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, LiveAdmission)
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let http1: HTTP1Channel.Configuration
    let live: LiveChannel
    let pingInterval: Duration
    /// The largest frame a client may send (it sends none but control frames).
    static let maxFrameSize = 1 << 12

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let maxHeaderBytes = http1.httpDecoder.maxHeaderListSize
        return channel.eventLoop.makeCompletedFuture {
            let admitted = NIOLockedValueBox<LiveAdmission?>(nil)
            // Until the first request is decided (upgraded or not): the idle timeout and the
            // answer to a head that cannot be parsed, which the HTTP pipeline gives later.
            let firstHead = FirstHeadErrorResponder(maxHeaderBytes: maxHeaderBytes, idleTimeout: http1.idleTimeout)
            // The head of an upgrade request that was refused: NIO's upgrade handler does not
            // pass it on (only what follows it), so it is handed to the HTTP pipeline again.
            let refusedHead = NIOLockedValueBox<HTTPRequestHead?>(nil)
            let live = live
            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                maxFrameSize: Self.maxFrameSize,
                shouldUpgrade: { channel, head in
                    refusedHead.withLockedValue { $0 = head }
                    let promise = channel.eventLoop.makePromise(of: HTTPHeaders?.self)
                    promise.completeWithTask {
                        guard head.method == .GET, head.uri.split(separator: "?", maxSplits: 1).first == "/sync/mutations/live",
                            let request = try? HTTPRequest(head, secure: false, splitCookie: false)
                        else { return nil }
                        guard let admission = await live.admit(Request(head: request, body: .init(buffer: .init()))) else { return nil }
                        admitted.withLockedValue { $0 = admission }
                        refusedHead.withLockedValue { $0 = nil }
                        return HTTPHeaders()
                    }
                    return promise.futureResult
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        channel.pipeline.syncOperations.removeHandler(firstHead, promise: nil)
                        guard let admission = admitted.withLockedValue({ $0 }) else { throw ChannelError.inappropriateOperationForState }
                        let asyncChannel = try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true)
                        )
                        return UpgradeResult.websocket(asyncChannel, admission)
                    }
                }
            )
            let serverUpgradeConfiguration = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        channel.pipeline.syncOperations.removeHandler(firstHead, promise: nil)
                        let replay = refusedHead.withLockedValue({ $0 }).map(RefusedUpgradeHead.init(head:))
                        if let replay { try channel.pipeline.syncOperations.addHandler(replay) }
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandlers(http1.additionalChannelHandlers())
                        try channel.pipeline.syncOperations.addHandler(
                            HTTPConnectionStateHandler(idleTimeout: http1.idleTimeout.map { .init($0) }, logger: logger)
                        )
                        let asyncChannel = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true)
                        )
                        replay?.replay()
                        return UpgradeResult.http(asyncChannel)
                    }
                }
            )
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration<UpgradeResult>(
                upgradeConfiguration: serverUpgradeConfiguration
            )
            configuration.enablePipelining = false
            configuration.enableErrorHandling = false
            configuration.enableResponseHeaderValidation = false
            configuration.decoderConfiguration.maxHeaderFieldSize = http1.httpDecoder.maxHeaderFieldSize
            configuration.decoderConfiguration.maxHeaderListSize = http1.httpDecoder.maxHeaderListSize
            configuration.decoderConfiguration.maxHeaderFieldCount = http1.httpDecoder.maxHeaderFieldCount
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
            try channel.pipeline.syncOperations.addHandler(firstHead)
            // Any upgrade request's head, whatever protocol it asks (h2c, say, which no upgrader
            // here takes and whose head NIO would drop as well).
            let upgradeHandler = try channel.pipeline.syncOperations.handler(type: NIOTypedHTTPServerUpgradeHandler<UpgradeResult>.self)
            try channel.pipeline.syncOperations.addHandler(UpgradeHeadRecorder(refusedHead), position: .before(upgradeHandler))
            return Value(upgradeResult: result, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .http(let http1):
                await handleHTTP(asyncChannel: http1, logger: logger)
            case .websocket(let asyncChannel, let admission):
                await serveLive(asyncChannel, admission: admission, logger: logger)
            }
        } catch {
            logger.debug("connection ended before its first request", metadata: ["error.type": "\(error)"])
        }
    }

    /// Runs the WebSocket apart from the server's graceful shutdown (the WebSocket library would
    /// close it with `1000`), which is watched here instead: it ends the channel with `1001`.
    private func serveLive(_ asyncChannel: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, admission: LiveAdmission, logger: Logger) async
    {
        let shutdown = LiveShutdown()
        let live = live
        let configuration = WebSocketHandler.Configuration(
            extensions: [],
            autoPing: .enabled(timePeriod: pingInterval),
            closeTimeout: .seconds(10),
            validateUTF8: false,
            maxFrameSize: Self.maxFrameSize
        )
        let run = Task.detached {
            _ = try? await WebSocketHandler.handle(
                type: .server,
                configuration: configuration,
                asyncChannel: asyncChannel,
                context: LiveWebSocketContext(logger: logger),
                handler: { inbound, outbound, _ in
                    try await live.serve(admission, inbound: inbound, outbound: outbound, shutdown: shutdown)
                }
            )
        }
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await run.value
            } onCancel: {
                run.cancel()
            }
        } onGracefulShutdown: {
            shutdown.trigger()
            live.endpoints.eventLog.shutdownWaiters()
        }
    }
}

/// Hands a refused upgrade request to the HTTP pipeline again: NIO's upgrade handler keeps
/// its head and end (a GET upgrade request has no body) and passes neither on.
final class RefusedUpgradeHead: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private let head: HTTPRequestHead
    private var context: ChannelHandlerContext?
    /// Set once the end was replayed, until the upgrade handler's own copy, if any, is dropped.
    private var dropEnd = false

    init(head: HTTPRequestHead) {
        self.head = head
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Sends the request on; call once the handlers after this one are in place.
    func replay() {
        guard let context else { return }
        dropEnd = true
        context.fireChannelRead(wrapInboundOut(.head(head)))
        context.fireChannelRead(wrapInboundOut(.end(nil)))
        context.fireChannelReadComplete()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if dropEnd {
            dropEnd = false
            if case .end = unwrapInboundIn(data) { return }
        }
        context.fireChannelRead(data)
    }
}

/// What the HTTP pipeline does for later requests, done for the first one while NIO's upgrade
/// handler waits for its head (the HTTP pipeline is added once it is decided): a head that
/// cannot be parsed (over the limits, or not HTTP) is answered as ``ParseErrorResponder``
/// answers it, and a connection whose first head has not been decided after the idle timeout
/// (none came, or it trickles in) is closed. Removed once the first request is decided.
final class FirstHeadErrorResponder: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let maxHeaderBytes: Int
    private let idleTimeout: TimeAmount?
    private let state = NIOLockedValueBox<(answered: Bool, timer: Scheduled<Void>?)>((false, nil))

    init(maxHeaderBytes: Int, idleTimeout: TimeAmount?) {
        self.maxHeaderBytes = maxHeaderBytes
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard let idleTimeout else { return }
        let channel = context.channel
        let timer = context.eventLoop.scheduleTask(in: idleTimeout) { channel.close(promise: nil) }
        state.withLockedValue { $0.timer = timer }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        state.withLockedValue { $0.timer }?.cancel()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        let first = state.withLockedValue { state in
            defer { state.answered = true }
            return !state.answered
        }
        guard first else { return }
        let body = ParseErrorResponder.errorBody(ParseErrorResponder.message(for: parseError, maxHeaderBytes: maxHeaderBytes))
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .badRequest, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        let closing = context.eventLoop.makePromise(of: Void.self)
        closing.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: closing)
    }
}

/// Keeps the head of a first request that asks an upgrade, for ``RefusedUpgradeHead``; leaves
/// the pipeline after the first head.
final class UpgradeHeadRecorder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private let recorded: NIOLockedValueBox<HTTPRequestHead?>

    init(_ recorded: NIOLockedValueBox<HTTPRequestHead?>) {
        self.recorded = recorded
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        if head.headers.contains(name: "upgrade") { recorded.withLockedValue { $0 = head } }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(self, promise: nil)
    }
}
