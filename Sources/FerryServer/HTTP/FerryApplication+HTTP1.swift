import FerryLog
import HummingbirdCore
import NIOCore

extension FerryApplication {
    /// The HTTP/1 server of a Ferry application: Hummingbird's idle timeout (which also bounds a
    /// request head that does not arrive, and a body that stops arriving), the decoder's
    /// limits on the request line and header fields, and ``ParseErrorResponder`` so that a
    /// request over those limits gets the protocol's error body instead of an empty `400`.
    public static func http1Server(_ configuration: FerryLog.ServerConfiguration) -> HTTPServerBuilder {
        let maxHeaderBytes = configuration.maxHeaderBytes
        return .http1(
            configuration: HTTP1Channel.Configuration(
                additionalChannelHandlers: [ParseErrorResponder(maxHeaderBytes: maxHeaderBytes)],
                idleTimeout: TimeAmount(configuration.idleTimeout),
                httpDecoderConfiguration: .init(
                    maxHeaderFieldSize: maxHeaderBytes,
                    maxHeaderListSize: maxHeaderBytes,
                    maxHeaderFieldCount: ParseErrorResponder.maxHeaderFields
                )
            )
        )
    }
}
