import FerryCore
import FerryLog
import Hummingbird
import NIOCore

/// The request context of Ferry's routes: Hummingbird's core context and the scope of the
/// request's access token, once ``AuthMiddleware`` has checked it.
public struct FerryRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The scope of the request's access token; `nil` before authentication.
    public var scope: TokenScope?
    /// The address of the peer (the proxy, behind one), for the log; `nil` when unknown.
    public var peer: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.scope = nil
        self.peer = source.channel.remoteAddress?.ipAddress
    }

    /// Throws `403 forbidden` unless the request's token may read and write `space`.
    func authorize(space: String) throws {
        guard let scope else { throw FerryError(.unauthorized, "missing bearer token") }
        guard scope.allows(space) else {
            throw FerryError(.forbidden, "the token does not grant access to space '\(space)'")
        }
    }
}
