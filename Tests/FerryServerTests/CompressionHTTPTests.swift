import AsyncHTTPClient
import CompressNIO
import FerryCore
import FerryLog
import FerryTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import FerryServer

/// `bytes` as one gzip member.
private func gzip(_ bytes: Data) throws -> Data {
    var buffer = ByteBuffer(bytes: bytes)
    return Data(try buffer.compress(with: .gzip()).readableBytesView)
}

/// `bytes`, one gzip member, decompressed.
private func gunzip(_ bytes: Data) throws -> Data {
    var buffer = ByteBuffer(bytes: bytes)
    return Data(try buffer.decompress(with: .gzip()).readableBytesView)
}

/// Fifty notes of about 100 bytes each: a pull page well above the compression threshold.
private func fillNotes(_ server: TestServer, token: String) async throws {
    let mutations = (1...50).map { index in
        var mutation = MutationInput.upsert(Int64(index), key: "n\(index)")
        mutation.payload = .object(["title": .string("Groceries for the week \(index)"), "body": .string("milk, eggs, bread")])
        return mutation
    }
    #expect(try await server.push(.make(space: "notes", mutations), token: token).status == 200)
}

private let pullPath = "/sync/mutations/pull?space=notes&since_seq=0"

/// The gzip content coding of the server's answers and request bodies, over real HTTP.
@Suite struct CompressionHTTPTests {
    @Test func aPullPageIsTheSameWithAndWithoutGzip() async throws {
        try await TestServer.with { server in
            let token = try await server.token("notes")
            try await fillNotes(server, token: token)
            let plain = try await server.request(.GET, pullPath, token: token)
            #expect(plain.status == 200)
            #expect(plain.headers["Content-Encoding"].isEmpty)
            #expect(plain.headers["Vary"].first == "Accept-Encoding")
            #expect(plain.headers["Accept-Encoding"].first == "gzip")

            let compressed = try await server.request(.GET, pullPath, token: token, headers: [("Accept-Encoding", "gzip")])
            #expect(compressed.status == 200)
            #expect(compressed.headers["Content-Encoding"].first == "gzip")
            #expect(compressed.headers["Vary"].first == "Accept-Encoding")
            #expect(compressed.headers["Content-Length"].first == String(compressed.body.count))
            #expect(compressed.body.count * 3 < plain.body.count, "\(compressed.body.count) of \(plain.body.count) bytes")
            #expect(try gunzip(compressed.body) == plain.body)
        }
    }

    @Test(arguments: [
        ("gzip;q=0", false), ("identity", false), ("br", false), ("*", true), ("*;q=0", false), ("br, gzip;q=0.5", true),
        ("GZIP", true), ("x-gzip", true), ("*, gzip;q=0", false), ("deflate, identity;q=1", false),
    ])
    func acceptEncodingIsHonoured(_ value: String, _ compresses: Bool) async throws {
        #expect(ContentCoding.acceptsGzip([value]) == compresses)
        try await TestServer.inProcess { server in
            let token = try await server.token("notes")
            try await fillNotes(server, token: token)
            let answer = try await server.request(.GET, pullPath, token: token, headers: [("Accept-Encoding", value)])
            #expect(answer.status == 200)
            #expect(answer.headers["Content-Encoding"].first == (compresses ? "gzip" : nil))
        }
    }

    @Test func aSmallBodyIsNotCompressed() async throws {
        try await TestServer.inProcess { server in
            let token = try await server.token("notes")
            let answer = try await server.request(.GET, pullPath, token: token, headers: [("Accept-Encoding", "gzip")])
            #expect(answer.status == 200)
            #expect(answer.body.count < 1024)
            #expect(answer.headers["Content-Encoding"].isEmpty)
            #expect(answer.headers["Vary"].first == "Accept-Encoding")
        }
    }

    @Test func aGzipPushIsAcceptedAndItsAnswerCompressed() async throws {
        try await TestServer.inProcess { server in
            let token = try await server.token("notes")
            let push = PushRequest.make(space: "notes", (1...40).map { MutationInput.upsert(Int64($0), key: "k\($0)") })
            let body = try gzip(try JSONEncoder().encode(push))
            let answer = try await server.request(
                .POST,
                "/sync/mutations/push",
                token: token,
                body: body,
                headers: [("Content-Encoding", "gzip"), ("Accept-Encoding", "gzip")]
            )
            #expect(answer.status == 200, "\(answer.text)")
            #expect(answer.headers["Content-Encoding"].first == "gzip")
            let response = try JSONDecoder().decode(PushResponse.self, from: try gunzip(answer.body))
            #expect(response.accepted == 40)
            #expect(try await server.storedMutationCount() == 40)
        }
    }

    @Test func aCorruptOrTruncatedGzipPushIs400() async throws {
        try await TestServer.inProcess { server in
            let token = try await server.token("notes")
            let whole = try gzip(try JSONEncoder().encode(PushRequest.make(space: "notes", [.upsert(1, key: "a")])))
            for body in [
                Data("not gzip at all".utf8), whole.prefix(whole.count - 12), Data([0x1f, 0x8b]) + Data(repeating: 0x55, count: 40),
            ] {
                let answer = try await server.request(
                    .POST,
                    "/sync/mutations/push",
                    token: token,
                    body: body,
                    headers: [("Content-Encoding", "gzip")]
                )
                #expect(answer.status == 400, "\(answer.text)")
                #expect(answer.errorCode == "bad_request")
            }
            #expect(try await server.storedMutationCount() == 0)
        }
    }

    @Test func aGzipBombIs413() async throws {
        // 64 MiB of zeros compress to 64 KB; the limit is 1 MiB of decompressed body.
        let bomb = try gzip(Data(count: 64 << 20))
        #expect(bomb.count < 100 << 10)
        #expect(throws: FerryError.self) { try ContentCoding.gunzip(ByteBuffer(bytes: bomb), limit: 1 << 20) }
        try await TestServer.inProcess(configuration: ServerConfiguration(maxBodyBytes: 1 << 20)) { server in
            let token = try await server.token("notes")
            let answer = try await server.request(
                .POST,
                "/sync/mutations/push",
                token: token,
                body: bomb,
                headers: [("Content-Encoding", "gzip")]
            )
            #expect(answer.status == 413)
            #expect(answer.errorCode == "payload_too_large")
            // Exactly at the limit is accepted by the decoder.
            let atLimit = try ContentCoding.gunzip(ByteBuffer(bytes: try gzip(Data(count: 1 << 20))), limit: 1 << 20)
            #expect(atLimit.readableBytes == 1 << 20)
        }
    }

    @Test func anUnknownEncodingIs415() async throws {
        try await TestServer.inProcess { server in
            let token = try await server.token("notes")
            let body = try JSONEncoder().encode(PushRequest.make(space: "notes", [.upsert(1, key: "a")]))
            for coding in ["br", "deflate", "gzip, gzip"] {
                let answer = try await server.request(
                    .POST,
                    "/sync/mutations/push",
                    token: token,
                    body: body,
                    headers: [("Content-Encoding", coding)]
                )
                #expect(answer.status == 415, "\(coding): \(answer.text)")
                #expect(answer.errorCode == "unsupported_media_type")
            }
            let identity = try await server.request(
                .POST,
                "/sync/mutations/push",
                token: token,
                body: body,
                headers: [("Content-Encoding", "identity")]
            )
            #expect(identity.status == 200)
        }
    }

    @Test func withCompressionOffNothingIsCompressedOrAdvertised() async throws {
        try await TestServer.inProcess(configuration: ServerConfiguration(compression: false)) { server in
            let token = try await server.token("notes")
            try await fillNotes(server, token: token)
            let answer = try await server.request(.GET, pullPath, token: token, headers: [("Accept-Encoding", "gzip")])
            #expect(answer.status == 200)
            #expect(answer.headers["Content-Encoding"].isEmpty)
            #expect(answer.headers["Vary"].isEmpty)
            #expect(answer.headers["Accept-Encoding"].isEmpty)
            let body = try gzip(try JSONEncoder().encode(PushRequest.make(space: "notes", [.upsert(99, key: "z")])))
            let push = try await server.request(
                .POST,
                "/sync/mutations/push",
                token: token,
                body: body,
                headers: [("Content-Encoding", "gzip")]
            )
            #expect(push.status == 415)
        }
    }

    @Test func theServeOptionsSetTheCoding() throws {
        var configuration = ServerConfiguration()
        #expect(configuration.compression)
        #expect(configuration.compressionMinimumBytes == 1024)
        try FerryEnvironment(["FERRY_COMPRESSION": "off", "FERRY_COMPRESSION_MIN_BYTES": "2048"])
            .compression(&configuration, mode: nil, minimumBytes: nil)
        #expect(!configuration.compression)
        #expect(configuration.compressionMinimumBytes == 2048)
        try FerryEnvironment(["FERRY_COMPRESSION": "off"]).compression(&configuration, mode: "on", minimumBytes: 0)
        #expect(configuration.compression)
        #expect(configuration.compressionMinimumBytes == 0)
        #expect(throws: ConfigurationError.self) {
            try FerryEnvironment().compression(&configuration, mode: "sometimes", minimumBytes: nil)
        }
    }

    @Test func aStreamIsCompressedAndDecodesToTheSameLines() async throws {
        try await TestServer.with(configuration: ServerConfiguration(streamPageSize: 7)) { server in
            let token = try await server.token("notes")
            try await fillNotes(server, token: token)
            let body = Data(#"{"space":"notes","device_id":"d","types":["note"]}"#.utf8)
            let plain = try await server.request(.POST, "/sync/stream", token: token, body: body)
            let compressed = try await server.request(
                .POST,
                "/sync/stream",
                token: token,
                body: body,
                headers: [("Accept-Encoding", "gzip")]
            )
            #expect(plain.headers["Content-Encoding"].isEmpty)
            #expect(compressed.headers["Content-Encoding"].first == "gzip")
            #expect(compressed.headers["Vary"].first == "Accept-Encoding")
            #expect(try gunzip(compressed.body) == plain.body)
            #expect(plain.text.split(separator: "\n").count == 51)
        }
    }

    /// Each part of a compressed stream is flushed: the bytes written so far decode to every
    /// line written so far, so a live stream's lines are not held back by the compressor.
    @Test func eachStreamPartDecodesOnItsOwn() throws {
        let encoder = try GzipStreamEncoder()
        let decompressor = CompressionAlgorithm.gzip().decompressor
        try decompressor.startStream()
        defer { try? decompressor.finishStream() }
        var decoded = Data()
        for index in 1...5 {
            let line = Array(#"{"type":"note","data":{"seq":\#(index)},"ack":"note|\#(index)"}"#.utf8) + [UInt8(ascii: "\n")]
            var part = try encoder.part(line)
            var output = ByteBufferAllocator().buffer(capacity: 4096)
            try? decompressor.streamInflate(from: &part, to: &output)
            decoded.append(Data(output.readableBytesView))
            #expect(decoded.split(separator: UInt8(ascii: "\n")).count == index, "line \(index) is held back")
        }
        var tail = try encoder.finish()
        #expect(tail.readableBytes > 0)
        var output = ByteBufferAllocator().buffer(capacity: 64)
        try decompressor.streamInflate(from: &tail, to: &output)
        #expect(output.readableBytes == 0)
    }

    @Test func aSnapshotChunkIsCompressedWithItsOwnTag() async throws {
        try await TestServer.with { server in
            let token = try await server.token("notes")
            try await fillNotes(server, token: token)
            let built = try #require(try await SnapshotBuilder(store: server.eventLog, policy: SnapshotPolicy()).build(space: "notes"))
            let id = try #require(built.manifest.chunks.first?.id)
            let plain = try await server.request(.GET, "/sync/pull/\(id)", token: token)
            let compressed = try await server.request(.GET, "/sync/pull/\(id)", token: token, headers: [("Accept-Encoding", "gzip")])
            #expect(plain.status == 200)
            #expect(plain.headers["ETag"].first == "\"\(id)\"")
            #expect(compressed.headers["Content-Encoding"].first == "gzip")
            #expect(compressed.headers["ETag"].first == "\"\(id)-gzip\"")
            #expect(try gunzip(compressed.body) == plain.body)
            #expect(SnapshotChunker.chunkID(of: Array(try gunzip(compressed.body))) == id)
            // Either tag names the same content.
            for tag in ["\"\(id)\"", "\"\(id)-gzip\""] {
                let again = try await server.request(
                    .GET,
                    "/sync/pull/\(id)",
                    token: token,
                    headers: [("Accept-Encoding", "gzip"), ("If-None-Match", tag)]
                )
                #expect(again.status == 304)
            }
        }
    }
}
