import FerryCore
import Foundation
import Hummingbird
import NIOCore

/// JSON bodies of responses.
enum JSONResponse {
    /// A `200` response whose body is `value`'s hand-written JSON form.
    static func writing(_ value: some JSONWritable) -> Response {
        make(json: value.jsonBytes())
    }

    /// A response whose body is `json`, JSON text.
    static func make(json: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.contentLength] = String(json.count)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: json)))
    }

    /// A response whose body is `value` as JSON.
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data = try encoder.encode(value)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.contentLength] = String(data.count)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
