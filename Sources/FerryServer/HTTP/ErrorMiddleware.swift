import FerryCore
import FerryLog
import Foundation
import Hummingbird
import Logging
import NIOCore

/// Turns every error into the protocol's error body, `{"error": {"code", "message"}}`: Ferry's
/// own errors render themselves (``FerryCore/FerryError`` is an `HTTPResponseError`); the
/// others (Hummingbird's unknown routes and bodies over the limit, JSON decoding errors,
/// anything unexpected) are first turned into the Ferry error that stands for them. Server
/// errors are logged.
struct ErrorMiddleware: RouterMiddleware {
    let logger: Logger

    func handle(
        _ request: Request,
        context: FerryRequestContext,
        next: (Request, FerryRequestContext) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let ferryError = Self.ferryError(for: error)
            if ferryError.code.httpStatus >= 500 {
                logger.error(
                    "request failed",
                    metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(error)"]
                )
            }
            return try ferryError.response(from: request, context: context)
        }
    }

    /// The protocol error that stands for `error`.
    static func ferryError(for error: any Error) -> FerryError {
        switch error {
        case let error as FerryError:
            return error
        case is NIOTooManyBytesError:
            return FerryError(.payloadTooLarge, "the request body is larger than the server accepts", underlying: error)
        case let error as JSONReadError:
            return FerryError(.badRequest, error.description, underlying: error)
        case let error as DecodingError:
            return FerryError(.badRequest, describe(error), underlying: error)
        case let error as any HTTPResponseError:
            switch error.status.code {
            case 404: return FerryError(.notFound, "no such route", underlying: error)
            case 405: return FerryError(.notFound, "no such route for this method", underlying: error)
            case 413: return FerryError(.payloadTooLarge, "the request body is too large", underlying: error)
            case 400..<500: return FerryError(.badRequest, "bad request", underlying: error)
            default: return FerryError(.internal, "internal error", underlying: error)
            }
        default:
            return FerryError(.internal, "internal error", underlying: error)
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            let rendered = codingPath.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
            return rendered.isEmpty ? "the body" : String(rendered.drop { $0 == "." })
        }
        switch error {
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "the body is not valid JSON" }
            return "\(path(context.codingPath)): \(context.debugDescription)"
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])) is required"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)) must be \(describe(type))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)) must be \(describe(type)), not null"
        @unknown default:
            return "the body does not match the expected shape"
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int64.Type, is Int.Type: "an integer"
        case is Bool.Type: "a boolean"
        case is Array<Any>.Type: "an array"
        default: "of type \(type)"
        }
    }
}
