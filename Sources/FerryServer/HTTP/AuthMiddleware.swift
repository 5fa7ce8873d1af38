import FerryCore
import FerryLog
import Foundation
import Hummingbird

/// Checks the `Authorization: Bearer` header of every request it wraps and stores the
/// token's scope in the context; answers `401 unauthorized` for a missing, malformed,
/// unknown, expired or revoked token.
struct AuthMiddleware: RouterMiddleware {
    let tokens: any TokenStore

    func handle(
        _ request: Request,
        context: FerryRequestContext,
        next: (Request, FerryRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw FerryError(.unauthorized, "missing bearer token")
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw FerryError(.unauthorized, "the Authorization header must be 'Bearer <token>'")
        }
        guard let scope = try await tokens.authenticate(accessToken: String(parts[1]).trimmingCharacters(in: .whitespaces))
        else {
            throw FerryError(.unauthorized, "the token is unknown, expired or revoked")
        }
        var context = context
        context.scope = scope
        return try await next(request, context)
    }
}
