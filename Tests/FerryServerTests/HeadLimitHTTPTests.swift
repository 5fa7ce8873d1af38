import FerryCore
import FerryServer
import FerryTestSupport
import Foundation
import NIOHTTP1
import Testing

/// Request heads and query strings over the server's limits get `400 bad_request` with the
/// protocol's error body, over a real socket, and the server keeps serving.
@Suite(.timeLimit(.minutes(1)))
struct HeadLimitHTTPTests {
    /// Sends `head` (a whole request head) on a raw connection and reads the answer.
    private static func exchange(_ server: TestServer, _ head: String) throws -> RawAnswer? {
        let port = try #require(server.http.baseURL.split(separator: ":").last.flatMap { Int($0) })
        let connection = try RawConnection(port: port)
        defer { connection.close() }
        var (received, closed) = connection.send(Array(head.utf8), timeout: .seconds(20))
        if !closed { received += connection.readUntilClosed(timeout: .seconds(20)).received }
        return RawAnswer(received)
    }

    /// Header fields over the limits, by name (built here, so that a test's name stays short).
    private static func fields(_ name: String) -> String {
        switch name {
        case "a 64 KiB header": "X-Big: \(String(repeating: "h", count: 64 << 10))\r\n"
        case "a 1 MiB header": "X-Huge: \(String(repeating: "h", count: 1 << 20))\r\n"
        case "headers of 17 KiB together": (0..<17).map { "X-Part-\($0): \(String(repeating: "p", count: 1000))\r\n" }.joined()
        default: (0..<101).map { "X-F\($0): v\r\n" }.joined()
        }
    }

    @Test(arguments: ["a 64 KiB header", "a 1 MiB header", "headers of 17 KiB together", "101 header fields"])
    func oversizedHeadersGet400WithTheErrorBody(name: String) async throws {
        let fields = Self.fields(name)
        try await TestServer.with { server in
            let answer = try #require(try Self.exchange(server, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\(fields)\r\n"), "\(name)")
            #expect(answer.status == 400, "\(name)")
            let error = try JSONDecoder().decode(ErrorResponse.self, from: Data(answer.body.utf8))
            #expect(error.error.code == .badRequest, "\(name)")
            #expect(error.error.message.contains("16384"), "\(name): \(error.error.message)")
            #expect(try await server.request(.GET, "/healthz").status == 200)
        }
    }

    @Test func aHeaderJustUnderTheLimitIsServed() async throws {
        try await TestServer.with { server in
            let answer = try await server.request(.GET, "/healthz", headers: [("X-Fill", String(repeating: "f", count: 12 << 10))])
            #expect(answer.status == 200)
        }
    }

    @Test func aQueryOverItsLimitGets400WithTheErrorBody() async throws {
        try await TestServer.with { server in
            let token = try await server.token("notes")
            // Over the query limit (8 KiB), under the head limit: refused by the route.
            let long = try await server.pull("space=notes&since_seq=0&pad=\(String(repeating: "q", count: 9 << 10))", token: token)
            #expect(long.status == 400)
            #expect(long.errorCode == "bad_request")
            #expect(long.text.contains("8192"))
            // Over the head limit: refused by the decoder, with the same body.
            let huge = try #require(
                try Self.exchange(
                    server,
                    "GET /sync/mutations/pull?space=notes&since_seq=0&pad=\(String(repeating: "q", count: 100 << 10)) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                )
            )
            #expect(huge.status == 400)
            #expect(huge.body.contains(#""code":"bad_request""#))
            // Under it: served.
            #expect(
                try await server.pull("space=notes&since_seq=0&pad=\(String(repeating: "q", count: 4 << 10))", token: token).status == 200
            )
        }
    }

    @Test func garbageGets400WithTheErrorBody() async throws {
        try await TestServer.with { server in
            let answer = try #require(try Self.exchange(server, "NOT HTTP AT ALL\r\n\r\n"))
            #expect(answer.status == 400)
            #expect(answer.body.contains(#""code":"bad_request""#))
        }
    }
}
