import CompressNIO
import FerryCore
import FerryLog
import FerryServer
import FerryTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import FerryHTTP

/// Requests of `count` notes of about 150 bytes each, client action ids from `first`.
private func notes(_ count: Int, from first: Int64) -> [MutationInput] {
    (0..<Int64(count)).map { offset in
        var mutation = MutationInput.upsert(first + offset, key: "n\(first + offset)")
        mutation.payload = .object([
            "title": .string("Groceries for the week \(first + offset)"), "body": .string("milk, eggs, bread, butter, cheese, apples"),
        ])
        return mutation
    }
}

/// The transport's side of the gzip coding, through a proxy that counts the bytes.
@Suite struct HTTPTransportCompressionTests {
    /// Runs `body` with a transport (compression `on`) to a test server (compression
    /// `serverCompression`) through a counting proxy.
    private func throughProxy(
        compression on: HTTPTransportConfiguration.Compression,
        serverCompression: Bool = true,
        _ body: (HTTPTransport, TestServer, String, FaultProxy) async throws -> Void
    ) async throws {
        try await TestServer.with(configuration: ServerConfiguration(compression: serverCompression)) { server in
            let token = try await server.token("notes")
            let upstream = Int(server.http.baseURL.split(separator: ":").last ?? "") ?? 0
            try await FaultProxy.with(upstreamPort: upstream) { proxy in
                let transport = HTTPTransport(
                    configuration: HTTPTransportConfiguration(baseURL: proxy.baseURL, accessToken: token, compression: on)
                )
                try await using(transport) { transport in try await body(transport, server, token, proxy) }
            }
        }
    }

    private func sent(_ proxy: FaultProxy) -> Int { proxy.records.reduce(0) { $0 + $1.requestBytes } }
    private func received(_ proxy: FaultProxy) -> Int { proxy.records.reduce(0) { $0 + $1.forwardedBytes } }

    @Test func theTransportLearnsTheAdvertisementThenCompressesPushes() async throws {
        try await throughProxy(compression: true) { transport, server, _, proxy in
            #expect(!transport.session.exchange.coding.serverAcceptsGzip)
            let first = try await transport.push(.make(space: "notes", notes(100, from: 1)))
            #expect(first.accepted == 100)
            #expect(transport.session.exchange.coding.serverAcceptsGzip)
            let plainBytes = sent(proxy)
            let second = try await transport.push(.make(space: "notes", notes(100, from: 101)))
            #expect(second.accepted == 100)
            let compressedBytes = sent(proxy) - plainBytes
            #expect(compressedBytes * 3 < plainBytes, "the second push sent \(compressedBytes) bytes, the first \(plainBytes)")

            let before = received(proxy)
            let page = try await transport.pull(space: "notes", since: 0, limit: nil, excludeDevice: nil, wait: nil)
            #expect(page.mutations.count == 200)
            #expect(page.mutations.last?.payload == notes(1, from: 200)[0].payload)
            let pulled = received(proxy) - before
            #expect(pulled < 200 * 150 / 3, "a page of 200 notes took \(pulled) bytes")
        }
    }

    @Test func aTransportWithCompressionOffSendsAndGetsIdentity() async throws {
        try await throughProxy(compression: false) { transport, _, _, proxy in
            _ = try await transport.push(.make(space: "notes", notes(100, from: 1)))
            let plainBytes = sent(proxy)
            _ = try await transport.push(.make(space: "notes", notes(100, from: 101)))
            #expect(!transport.session.exchange.coding.serverAcceptsGzip)
            let again = sent(proxy) - plainBytes
            #expect(again * 10 > plainBytes * 9, "the second push sent \(again) bytes, the first \(plainBytes)")
            let before = received(proxy)
            let page = try await transport.pull(space: "notes", since: 0, limit: nil, excludeDevice: nil, wait: nil)
            #expect(page.mutations.count == 200)
            #expect(received(proxy) - before > 200 * 100)
        }
    }

    @Test func aServerWithoutCompressionNeverGetsACompressedBody() async throws {
        try await throughProxy(compression: true, serverCompression: false) { transport, _, _, _ in
            for round in 0..<3 {
                let answer = try await transport.push(.make(space: "notes", notes(50, from: Int64(round * 50 + 1))))
                #expect(answer.accepted == 50)
            }
            #expect(!transport.session.exchange.coding.serverAcceptsGzip)
            let page = try await transport.pull(space: "notes", since: 0, limit: nil, excludeDevice: nil, wait: nil)
            #expect(page.mutations.count == 150)
        }
    }

    @Test func aSnapshotChunkArrivesDecompressedAndMatchesItsID() async throws {
        try await throughProxy(compression: true) { transport, server, _, _ in
            _ = try await transport.push(.make(space: "notes", notes(100, from: 1)))
            let built = try #require(try await SnapshotBuilder(store: server.eventLog, policy: SnapshotPolicy()).build(space: "notes"))
            let id = try #require(built.manifest.chunks.first?.id)
            let body = try await transport.chunk(id: id)
            #expect(SnapshotChunker.chunkID(of: body) == id)
        }
    }

    @Test func aGzipAnswerIsHeldToTheResponseLimit() throws {
        var zeros = ByteBuffer(bytes: [UInt8](repeating: 0, count: 1 << 20))
        let bomb = try zeros.compress(with: .gzip())
        #expect(throws: NIOTooManyBytesError.self) {
            try HTTPContentCoding.decode(bomb, headers: ["Content-Encoding": "gzip"], limit: 64 << 10)
        }
        let whole = try HTTPContentCoding.decode(bomb, headers: ["Content-Encoding": "gzip"], limit: 1 << 20)
        #expect(whole.readableBytes == 1 << 20)
        // A body already decoded (not starting as gzip does) is left as it is.
        let plain = ByteBuffer(string: "{}")
        #expect(try HTTPContentCoding.decode(plain, headers: ["Content-Encoding": "gzip"], limit: 10) == plain)
    }

    @Test func theDefaultLeavesLoopbackServersAloneAndCompressesOverANetwork() {
        let automatic = HTTPTransportConfiguration.Compression.automatic
        for local in ["http://127.0.0.1:8080", "http://localhost:8080/", "http://LOCALHOST", "http://127.1.2.3", "http://[::1]:9000"] {
            #expect(!automatic.isEnabled(forBaseURL: local), "\(local)")
        }
        for remote in [
            "https://sync.example.com", "http://10.0.0.7:8080", "http://128.0.0.1", "http://127.0.0.1.example.com", "http://[::2]",
        ] {
            #expect(automatic.isEnabled(forBaseURL: remote), "\(remote)")
        }
        #expect(HTTPTransportConfiguration.Compression.always.isEnabled(forBaseURL: "http://127.0.0.1:8080"))
        #expect(!HTTPTransportConfiguration.Compression.never.isEnabled(forBaseURL: "https://sync.example.com"))
        let configuration = HTTPTransportConfiguration(baseURL: "http://127.0.0.1:1", accessToken: "t", compression: true)
        #expect(configuration.compression == .always)
        #expect(HTTPTransportConfiguration(baseURL: "http://127.0.0.1:1", accessToken: "t").compression == .automatic)
    }

    @Test func anEventStreamAsksForGzipAndInflatesItAsItArrives() async throws {
        try await TestServer.with { server in
            let token = try await server.token("notes")
            try await using(server.transport(accessToken: token)) { transport in
                for first in stride(from: Int64(1), to: 3001, by: 1000) {
                    let pushed = try await transport.push(.make(space: "notes", notes(1000, from: first)))
                    #expect(pushed.accepted == 1000)
                }
            }
            let upstream = Int(server.http.baseURL.split(separator: ":").last ?? "") ?? 0
            var lines: [HTTPTransportConfiguration.Compression: [[UInt8]]] = [:]
            var bytes: [HTTPTransportConfiguration.Compression: Int] = [:]
            for compression: HTTPTransportConfiguration.Compression in [.always, .never] {
                try await FaultProxy.with(upstreamPort: upstream) { proxy in
                    let stream = HTTPEventStream(
                        configuration: HTTPTransportConfiguration(baseURL: proxy.baseURL, accessToken: token, compression: compression),
                        space: "notes",
                        deviceID: "reader"
                    )
                    var read: [[UInt8]] = []
                    for try await line in try await stream.open(types: ["note"]) { read.append(line) }
                    try await stream.shutdown()
                    lines[compression] = read
                    bytes[compression] = proxy.records.reduce(0) { $0 + $1.forwardedBytes }
                }
            }
            #expect(lines[.always]?.count == 3001, "3,000 events and SyncComplete")
            #expect(lines[.always] == lines[.never], "the same lines, decoded")
            let compressed = bytes[.always] ?? 0
            let plain = bytes[.never] ?? 0
            #expect(compressed * 4 < plain, "the gzip stream took \(compressed) bytes, the plain one \(plain)")
        }
    }
}
