import FerryCore
import FerryLog
import Foundation
import Hummingbird
import NIOFoundationCompat

/// The routes of `/admin`, for an app's own backend holding an admin token: it issues device
/// tokens after its own sign-in, lists the grants and revokes them. ``AuthMiddleware`` in its
/// admin realm lets only admin tokens through.
struct AdminController {
    let tokens: any TokenStore
    let configuration: ServerConfiguration

    func addRoutes(to group: RouterGroup<FerryRequestContext>) {
        group.post("tokens", use: issue)
        group.get("tokens", use: grants)
        group.delete("tokens/:grant", use: revoke)
    }

    /// `POST /admin/tokens`: a new grant of the named spaces and its first pair, `201`.
    @Sendable func issue(request: Request, context: FerryRequestContext) async throws -> Response {
        let body = try await decodeBody(AdminTokenRequest.self, from: request)
        if let problem = body.problem { throw FerryError(.badRequest, problem) }
        var seen = Set<String>()
        let spaces = body.spaces.filter { seen.insert($0).inserted }
        let issued = try await tokens.issue(spaces: spaces, accessTTL: body.ttl ?? AdminTokenRequest.defaultTTL)
        return try JSONResponse.make(issued, status: .created)
    }

    /// `GET /admin/tokens`: `{"grants": [...]}`, newest first, as `ferry token list --json`.
    @Sendable func grants(request: Request, context: FerryRequestContext) async throws -> Response {
        try JSONResponse.make(GrantList(grants: try await tokens.grants()))
    }

    /// `DELETE /admin/tokens/{grant}`: revokes the grant, `204`; `404` for an unknown one.
    @Sendable func revoke(request: Request, context: FerryRequestContext) async throws -> Response {
        let grant = context.parameters.get("grant") ?? ""
        guard try await tokens.revoke(grantID: grant) else { throw FerryError(.notFound, "no grant '\(grant)'") }
        return Response(status: .noContent)
    }

    /// Reads the body up to the limit (`413` beyond it) and decodes it (`400` when it is not
    /// the expected JSON, or empty).
    private func decodeBody<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let limit = configuration.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw FerryError(.payloadTooLarge, "the request body is \(length) bytes; at most \(limit) are accepted")
        }
        let buffer = try await request.body.collect(upTo: limit)
        guard buffer.readableBytes > 0 else { throw FerryError(.badRequest, "the request body is empty") }
        return try JSONDecoder().decode(T.self, from: buffer)
    }
}

/// The body of `GET /admin/tokens`.
struct GrantList: Codable, Sendable {
    var grants: [TokenGrant]
}
