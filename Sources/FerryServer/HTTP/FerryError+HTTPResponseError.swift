import FerryCore
import Hummingbird

/// A Ferry error renders itself as the protocol's error body, `{"error": {"code", "message"}}`,
/// with the status its code calls for (and `Retry-After` when it asks to slow down).
extension FerryError: HTTPResponseError {
    public var status: HTTPResponse.Status { .init(code: code.httpStatus) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try JSONResponse.make(ErrorResponse(self), status: status)
        if code == .rateLimited {
            response.headers[.retryAfter] = "1"
        }
        return response
    }
}
