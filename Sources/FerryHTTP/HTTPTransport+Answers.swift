import FerryCore
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

extension HTTPTransport {
    /// The error an answer other than `2xx` stands for, classified as the protocol
    /// prescribes (``FerryCore/SyncTransportError/classify(status:code:message:retryAfter:)``).
    ///
    /// The code and message come from the protocol error body when there is one; otherwise
    /// the message quotes the start of the body. `Retry-After` in integer seconds is kept on
    /// `429` and `503`; a `410 history_pruned` keeps the body's `floor_seq`.
    static func error(status: Int, headers: HTTPHeaders, body: ByteBuffer, route: String) -> SyncTransportError {
        let decoded = try? JSONDecoder().decode(ErrorResponse.self, from: body)
        let detail = decoded?.error
        let message: String
        if let detail {
            message = "\(route): \(detail.message)"
        } else {
            let text = String(decoding: body.readableBytesView.prefix(200), as: UTF8.self)
            message = text.isEmpty ? "\(route): HTTP \(status)" : "\(route): HTTP \(status): \(text)"
        }
        let retryAfter = status == 429 || status == 503 ? Self.retryAfter(headers) : nil
        var error = SyncTransportError.classify(status: status, code: detail?.code, message: message, retryAfter: retryAfter)
        if error.kind == .historyPruned { error.floorSeq = decoded?.floorSeq }
        return error
    }

    /// The delay of a `Retry-After` header in integer seconds, or `nil` when it is absent or
    /// not a non-negative integer (the HTTP-date form is not honoured).
    static func retryAfter(_ headers: HTTPHeaders) -> Duration? {
        RetryAfter.delay(headers)
    }

    /// Reads a successful answer's body with the message's hand-written JSON form; a body
    /// that is not the expected JSON is a transient failure, since something other than a
    /// Ferry server (a proxy, a captive portal) may have answered.
    static func read<T: JSONReadable>(_ type: T.Type, from answer: HTTPExchange.Answer, route: String) throws -> T {
        do {
            return try T(jsonBytes: answer.body.readableBytesView)
        } catch {
            throw notExpected(T.self, answer: answer, route: route, error: error)
        }
    }

    /// Decodes a successful answer's body with `JSONDecoder`; a body that is not the expected
    /// JSON is a transient failure, as for ``read(_:from:route:)``.
    static func decode<T: Decodable>(_ type: T.Type, from answer: HTTPExchange.Answer, route: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: answer.body)
        } catch {
            throw notExpected(T.self, answer: answer, route: route, error: error)
        }
    }

    private static func notExpected(_ type: Any.Type, answer: HTTPExchange.Answer, route: String, error: any Error) -> SyncTransportError {
        SyncTransportError(
            .transient,
            "\(route): the HTTP \(answer.status) answer is not a valid \(type); something other than a Ferry server may have answered",
            status: answer.status,
            underlying: error
        )
    }
}
