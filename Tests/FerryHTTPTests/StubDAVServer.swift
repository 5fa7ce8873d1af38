import FerryCore
import FerryTestSupport
import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// A small Hummingbird server on 127.0.0.1 that answers every `REPORT` as a test scripts it,
/// and records what it receives.
final class StubDAVServer: Sendable {
    /// One request received.
    struct Received: Sendable {
        var method: String
        var path: String
        /// The headers, by lowercased name.
        var headers: [String: String]
        var body: String

        /// The value of the header `name` (any case).
        func header(_ name: String) -> String? { headers[name.lowercased()] }

        /// The sync token the body of a `sync-collection` report sends, `""` for the empty
        /// element, `nil` when the body has none.
        var syncToken: String? {
            guard let start = body.range(of: "<D:sync-token") else { return nil }
            let rest = body[start.upperBound...]
            if rest.hasPrefix("/>") { return "" }
            guard let open = rest.firstIndex(of: ">"), let close = rest.range(of: "</D:sync-token>") else { return nil }
            return String(rest[rest.index(after: open)..<close.lowerBound])
        }

        /// Whether this is a multiget report.
        var isMultiget: Bool { body.contains("-multiget") }
    }

    /// A scripted answer.
    struct Answer: Sendable {
        var status: Int
        var headers: [String: String] = [:]
        var body: String

        /// A `207` multistatus answer.
        static func multistatus(_ body: String) -> Answer {
            Answer(status: 207, headers: ["Content-Type": "application/xml; charset=utf-8"], body: body)
        }
    }

    private let respond: @Sendable (Received) -> Answer
    private let requests = Mutex<[Received]>([])

    /// A server that answers each request with what `respond` returns for it.
    init(_ respond: @escaping @Sendable (Received) -> Answer) {
        self.respond = respond
    }

    /// The requests received so far, in order.
    var received: [Received] { requests.withLock { $0 } }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.on("**", method: HTTPRequest.Method("REPORT")!) { request, _ -> Response in
            let body = try await request.body.collect(upTo: 16 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
            let received = Received(
                method: request.method.rawValue,
                path: request.uri.path,
                headers: headers,
                body: String(buffer: body)
            )
            self.requests.withLock { $0.append(received) }
            let answer = self.respond(received)
            var fields = HTTPFields()
            for (name, value) in answer.headers {
                fields[.init(name)!] = value
            }
            return Response(
                status: HTTPResponse.Status(code: answer.status),
                headers: fields,
                body: ResponseBody(byteBuffer: ByteBuffer(string: answer.body))
            )
        }
        return router
    }

    /// Runs `body` with the server listening on a free port of 127.0.0.1, given its base URL.
    func run<T: Sendable>(_ body: (String) async throws -> T) async throws -> T {
        try await runStubServer(router(), label: "stub-dav-server", body)
    }
}
