import FerryCore
import FerryTestSupport
import Foundation
import Testing

@testable import FerryHTTP

/// The transport's snapshot calls: manifest, chunk download, bulk upload, and `410`.
@Suite struct HTTPTransportSnapshotTests {
    static let chunkID = String(repeating: "ab", count: 32)
    static let chunkBody = Array(#"{"entity":"note","entity_key":"n1","payload":{"title":"a"},"seq":3}"#.utf8) + [0x0A]

    static func stub() -> StubSnapshotServer {
        StubSnapshotServer(
            manifest: #"""
                {"version":1,"log_id":"log-1","snapshot_seq":120,"floor_seq":7,"future":true,
                 "chunks":[{"id":"\#(chunkID.uppercased())","records":1,"bytes":\#(chunkBody.count),"created_at":"2026-11-22T10:00:00Z"}]}
                """#,
            chunks: [chunkID: chunkBody],
            pushAnswer: #"""
                {"accepted":1,"acks":[{"client_action_id":1,"seq":121}],
                 "rejected":[{"client_action_id":2,"reason":"duplicate","seq":9}],"conflicts":[],"head_seq":121,"log_id":"log-1"}
                """#
        )
    }

    static func transport(_ baseURL: String) -> HTTPTransport {
        HTTPTransport(configuration: HTTPTransportConfiguration(baseURL: baseURL, accessToken: "t"))
    }

    @Test func readsTheManifestAndDownloadsAChunkAsReceived() async throws {
        let stub = Self.stub()
        try await stub.run { baseURL in
            try await using(Self.transport(baseURL)) { transport in
                let manifest = try await transport.manifest(space: "my notes")
                #expect(manifest.logID == "log-1")
                #expect(manifest.snapshotSeq == 120)
                #expect(manifest.floorSeq == 7)
                #expect(manifest.chunks.map(\.id) == [Self.chunkID])
                let body = try await transport.chunk(id: manifest.chunks[0].id)
                #expect(body == Self.chunkBody)
                let missing = await transportError { try await transport.chunk(id: String(repeating: "0", count: 64)) }
                #expect(missing?.kind == .permanent)
                #expect(missing?.status == 404)
                let malformed = await transportError { try await transport.chunk(id: "../etc") }
                #expect(malformed?.kind == .permanent)
                #expect(malformed?.status == nil)
            }
        }
        let requests = stub.received
        #expect(requests.first?.path == "/sync/pull")
        #expect(requests.first?.query == "space=my%20notes")
        #expect(requests.dropFirst().first?.path == "/sync/pull/\(Self.chunkID)")
        #expect(requests.dropFirst().first?.accept == "application/x-ndjson")
        #expect(requests.count == 3)
    }

    @Test func uploadsABulkChunkWithItsIDAndReadsThePushAnswer() async throws {
        let stub = Self.stub()
        let body = BulkPushRequest.body(of: [.upsert(1, key: "a"), .upsert(2, key: "b")])
        let request = BulkPushRequest(space: "notes", deviceID: "dev a", sessionID: "s-1", body: body, chunkID: Self.chunkID)
        let answer = try await stub.run { baseURL in
            try await using(Self.transport(baseURL)) { transport in try await transport.bulkPush(request) }
        }
        #expect(answer.acks == [MutationAck(clientActionID: 1, seq: 121)])
        #expect(answer.rejected.first?.reason == .duplicate)
        #expect(answer.rejected.first?.seq == 9)
        let received = try #require(stub.received.first)
        #expect(received.method == "POST")
        #expect(received.path == "/sync/push")
        #expect(received.query == "space=notes&device_id=dev%20a&session_id=s-1")
        #expect(received.chunkID == Self.chunkID)
        #expect(received.contentType == "application/x-ndjson")
        #expect(received.body == body)
    }

    @Test func aPrunedHistoryIsHistoryPrunedWithTheFloor() async throws {
        let stub = Self.stub()
        try await stub.run { baseURL in
            try await using(Self.transport(baseURL)) { transport in
                let error = await transportError {
                    try await transport.pull(space: "notes", since: 0, limit: nil, excludeDevice: nil, wait: nil)
                }
                #expect(error?.kind == .historyPruned)
                #expect(error?.status == 410)
                #expect(error?.code == .historyPruned)
                #expect(error?.floorSeq == 42)
            }
        }
    }
}
