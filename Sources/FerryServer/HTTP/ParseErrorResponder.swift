import FerryCore
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Answers a request that is not valid HTTP/1.1, or whose line and header fields are larger
/// than the decoder accepts, with the protocol's error body (`400 bad_request`), then closes
/// the connection.
///
/// Hummingbird answers such a request with an empty `400`; this handler sits behind the
/// decoder (one of the HTTP/1 channel's additional handlers) and catches the decoder's
/// `HTTPParserError` first. When a response of the same connection is still being written,
/// nothing is added to it: the connection is closed.
final class ParseErrorResponder: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The most header fields a request may have.
    static let maxHeaderFields = 100

    private let maxHeaderBytes: Int
    /// Request heads read minus responses ended.
    private var inFlight = 0
    private var answered = false

    /// A responder naming `maxHeaderBytes`, the decoder's limit, in its message.
    init(maxHeaderBytes: Int) {
        self.maxHeaderBytes = maxHeaderBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { inFlight += 1 }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { inFlight -= 1 }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        guard !answered else { return }
        answered = true
        guard inFlight == 0 else {
            context.close(promise: nil)
            return
        }
        let body = Self.errorBody(Self.message(for: parseError, maxHeaderBytes: maxHeaderBytes))
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.contentLength] = String(body.count)
        fields[.connection] = "close"
        context.write(wrapOutboundOut(.head(HTTPResponse(status: .badRequest, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(ByteBuffer(bytes: body))), promise: nil)
        let closing = context.eventLoop.makePromise(of: Void.self)
        closing.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: closing)
    }

    /// What the `400` says of `parseError`: over the head limits (naming them), or not HTTP.
    static func message(for parseError: HTTPParserError, maxHeaderBytes: Int) -> String {
        parseError == .headerOverflow
            ? "the request head is over the server's limits: at most \(maxHeaderBytes) bytes of request line and header fields, and \(maxHeaderFields) fields"
            : "the request is not valid HTTP/1.1"
    }

    /// The protocol's error body for a `bad_request` with `message`.
    static func errorBody(_ message: String) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return (try? Array(encoder.encode(ErrorResponse(FerryError(.badRequest, message)))))
            ?? Array(
                #"{"error":{"code":"bad_request","message":"bad request"}}"#.utf8
            )
    }
}
