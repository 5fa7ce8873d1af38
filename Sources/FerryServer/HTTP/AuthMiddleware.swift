import FerryCore
import FerryLog
import Foundation
import Hummingbird
import Logging

/// Checks the `Authorization: Bearer` header of every request it wraps and stores the
/// token's scope in the context; answers `401 unauthorized` for a missing, malformed,
/// unknown, expired or revoked token. A `403 forbidden` of the routes it wraps (a space
/// outside the token's scope) passes through it too.
///
/// A bearer value that has the shape of a JWT is verified by the ``JWTAuthenticator``, when
/// there is one; any other by the token store. In the ``Realm/spaces`` realm (`/sync`) an
/// admin token is refused with `403`; in the ``Realm/admin`` realm (`/admin`) every token but
/// an admin token is, a JWT included.
///
/// Each refusal is counted (`ferry_auth_failures_total{reason}`) and logged at `info` with
/// its reason, path and peer, and at most the first 12 hex digits of the token's SHA-256:
/// never the token itself.
struct AuthMiddleware: RouterMiddleware {
    /// Which tokens the wrapped routes admit.
    enum Realm {
        /// The routes of spaces: tokens of spaces and JWTs.
        case spaces
        /// The admin API: admin tokens only.
        case admin
    }

    let tokens: any TokenStore
    let jwt: JWTAuthenticator?
    let realm: Realm
    let metrics: ServerMetrics

    init(tokens: any TokenStore, jwt: JWTAuthenticator? = nil, realm: Realm = .spaces, metrics: ServerMetrics) {
        self.tokens = tokens
        self.jwt = jwt
        self.realm = realm
        self.metrics = metrics
    }

    func handle(
        _ request: Request,
        context: FerryRequestContext,
        next: (Request, FerryRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw refuse(request, context, reason: "missing", token: nil, FerryError(.unauthorized, "missing bearer token"))
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw refuse(
                request,
                context,
                reason: "malformed",
                token: nil,
                FerryError(.unauthorized, "the Authorization header must be 'Bearer <token>'")
            )
        }
        let token = String(parts[1]).trimmingCharacters(in: .whitespaces)
        let scope: TokenScope
        if let jwt, JWTAuthenticator.looksLikeJWT(token) {
            switch await jwt.verify(token) {
            case .success(let verified):
                scope = verified
            case .failure(let refusal):
                throw refuse(request, context, reason: refusal.reason, token: token, FerryError(.unauthorized, refusal.message))
            }
        } else {
            guard let found = try await tokens.authenticate(accessToken: token) else {
                throw refuse(
                    request,
                    context,
                    reason: "invalid",
                    token: token,
                    FerryError(.unauthorized, "the token is unknown, expired or revoked")
                )
            }
            scope = found
        }
        var context = context
        context.scope = scope
        switch realm {
        case .spaces where scope.isAdmin:
            throw refuse(
                request,
                context,
                reason: "forbidden",
                token: nil,
                FerryError(.forbidden, "an admin token reaches the /admin routes only, no space")
            )
        case .admin where !scope.isAdmin:
            throw refuse(request, context, reason: "forbidden", token: nil, FerryError(.forbidden, "the /admin routes need an admin token"))
        default:
            break
        }
        do {
            return try await next(request, context)
        } catch let error as FerryError where error.code == .forbidden {
            throw refuse(request, context, reason: "forbidden", token: nil, error)
        }
    }

    private func refuse(
        _ request: Request,
        _ context: FerryRequestContext,
        reason: String,
        token: String?,
        _ error: FerryError
    ) -> FerryError {
        metrics.recordAuthFailure(reason: reason)
        AuthFailureLog.log(context.logger, reason: reason, request: request, context: context, token: token)
        return error
    }
}

/// The log line of a refused credential: what an operator needs to see an attack, and
/// nothing that would let a reader of the log use the credential.
enum AuthFailureLog {
    /// Logs a refusal at `info`: reason, method, path (without the query), peer, and the
    /// first 12 hex digits of the SHA-256 of `token`, which the store keeps whole.
    static func log(_ logger: Logger, reason: String, request: Request, context: FerryRequestContext, token: String?) {
        var metadata: Logger.Metadata = [
            "ferry.auth.reason": "\(reason)",
            "ferry.method": "\(request.method)",
            "ferry.path": "\(request.uri.path)",
            "ferry.peer": "\(context.peer ?? "unknown")",
        ]
        if let token, !token.isEmpty { metadata["ferry.token_sha256"] = "\(TokenSecret.hash(token).prefix(12))" }
        if let grant = context.scope?.grantID { metadata["ferry.grant"] = "\(grant)" }
        logger.info("authentication refused", metadata: metadata)
    }
}
