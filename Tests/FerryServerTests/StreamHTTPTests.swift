import AsyncHTTPClient
import FerryCore
import FerryServer
import FerryTestSupport
import Foundation
import GRDB
import NIOCore
import NIOHTTP1
import Testing

private func streamBody(_ space: String = "notes", device: String = "dev", types: [String]) -> Data {
    let list = types.map { "\"\($0)\"" }.joined(separator: ",")
    return Data(#"{"space":"\#(space)","device_id":"\#(device)","types":[\#(list)]}"#.utf8)
}

private func ackBody(_ acks: [String], space: String = "notes", device: String = "dev") -> Data {
    let list = acks.map { "\"\($0)\"" }.joined(separator: ",")
    return Data(#"{"space":"\#(space)","device_id":"\#(device)","acks":[\#(list)]}"#.utf8)
}

/// The acks of an NDJSON stream's lines, read with `JSONSerialization` (an independent reader).
private func acks(ofStream text: String) throws -> [String] {
    try text.split(separator: "\n").map { line in
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        return object?["ack"] as? String ?? "?"
    }
}

/// `POST /sync/stream` and `/sync/ack` through the server's routes.
@Suite struct StreamHTTPTests {
    @Test func aStreamIsNDJSONAndAcksMoveTheCheckpoints() async throws {
        try await TestServer.inProcess { server in
            let token = try await server.token("notes")
            _ = try await server.push(
                .make(space: "notes", [.upsert(1, key: "a"), .upsert(2, key: "b"), .upsert(3, key: "c")]),
                token: token
            )
            let answer = try await server.request(.POST, "/sync/stream", token: token, body: streamBody(types: ["note"]))
            #expect(answer.status == 200)
            #expect(answer.headers["Content-Type"].first == "application/x-ndjson")
            #expect(answer.text.hasSuffix("\n"))
            #expect(try acks(ofStream: answer.text) == ["note|1", "note|2", "note|3", "SyncComplete|3"])
            let first = try JSONSerialization.jsonObject(with: Data(answer.text.split(separator: "\n")[0].utf8)) as? [String: Any]
            #expect(first?["type"] as? String == "note")
            #expect((first?["data"] as? [String: Any])?["entity_key"] as? String == "a")

            let acked = try await server.request(.POST, "/sync/ack", token: token, body: ackBody(["note|2", "SyncComplete|3"]))
            #expect(acked.status == 204)
            #expect(acked.body.isEmpty)
            let listed = try await server.request(.GET, "/sync/ack?space=notes&device_id=dev", token: token)
            #expect(listed.status == 200)
            #expect(listed.text == #"{"acks":["SyncComplete|3","note|2"]}"#)
            let again = try await server.request(.POST, "/sync/stream", token: token, body: streamBody(types: ["note"]))
            #expect(try acks(ofStream: again.text) == ["note|3", "SyncComplete|3"])

            let cleared = try await server.request(.DELETE, "/sync/ack?space=notes&device_id=dev&types=SyncComplete", token: token)
            #expect(cleared.status == 204)
            #expect(try await server.request(.GET, "/sync/ack?space=notes&device_id=dev", token: token).text == #"{"acks":["note|2"]}"#)
            #expect(try await server.request(.DELETE, "/sync/ack?space=notes&device_id=dev", token: token).status == 204)
            #expect(try await server.request(.GET, "/sync/ack?space=notes&device_id=dev", token: token).text == #"{"acks":[]}"#)
        }
    }

    @Test func badRequestsAre400AndNameWhatIsWrong() async throws {
        try await TestServer.inProcess { server in
            let token = try await server.token("notes")
            _ = try await server.push(.make(space: "notes", [.upsert(1, key: "a")]), token: token)
            let cases: [(HTTPMethod, String, Data?, String)] = [
                (.POST, "/sync/stream", Data(#"{"space":"notes","device_id":"dev"}"#.utf8), "types"),
                (.POST, "/sync/stream", streamBody(types: []), "types"),
                (.POST, "/sync/stream", streamBody(types: ["no|te"]), "types"),
                (.POST, "/sync/stream", Data("{oops".utf8), "JSON"),
                (.POST, "/sync/stream", nil, "empty"),
                (.POST, "/sync/ack", ackBody(["note|1", "note|x"]), "acks[1]"),
                (.POST, "/sync/ack", ackBody(["note|2"]), "above the head"),
                (.POST, "/sync/ack", ackBody([]), "acks"),
                (.GET, "/sync/ack?space=notes", nil, "device_id"),
                (.DELETE, "/sync/ack?device_id=dev", nil, "space"),
                (.DELETE, "/sync/ack?space=notes&device_id=dev&types=", nil, "types"),
            ]
            for (method, path, body, named) in cases {
                let answer = try await server.request(method, path, token: token, body: body)
                #expect(answer.status == 400, "\(method) \(path) \(String(decoding: body ?? Data(), as: UTF8.self))")
                #expect(answer.errorCode == "bad_request")
                #expect(answer.text.contains(named), "\(answer.text)")
            }
            #expect(try await server.request(.GET, "/sync/ack?space=notes&device_id=dev", token: token).text == #"{"acks":[]}"#)
        }
    }

    @Test func refusedAcksAndStreamsOfAnUnbornSpaceCreateNothing() async throws {
        try await TestServer.inProcess { server in
            let token = try await server.token("unborn")
            #expect(try await server.request(.POST, "/sync/ack", token: token, body: ackBody(["note|1"], space: "unborn")).status == 400)
            let stream = try await server.request(.POST, "/sync/stream", token: token, body: streamBody("unborn", types: ["note"]))
            #expect(try acks(ofStream: stream.text) == ["SyncComplete|0"])
            #expect(
                try await server.request(.POST, "/sync/ack", token: token, body: ackBody(["SyncReset|0"], space: "unborn")).status == 204
            )
            let rows = try await server.database.pool.read { db in
                try Int.fetchOne(db, sql: "SELECT (SELECT count(*) FROM space) + (SELECT count(*) FROM stream_checkpoint)")
            }
            #expect(rows == 0)
        }
    }

    @Test func metricsCountStreamsEventsAndAcks() async throws {
        try await TestServer.inProcess { server in
            let token = try await server.token("notes")
            _ = try await server.push(.make(space: "notes", [.upsert(1, key: "a"), .upsert(2, key: "b")]), token: token)
            _ = try await server.request(.POST, "/sync/stream", token: token, body: streamBody(types: ["note"]))
            _ = try await server.request(.POST, "/sync/ack", token: token, body: ackBody(["note|1", "note|2", "SyncComplete|2"]))
            let text = try await server.request(.GET, "/metrics").text
            #expect(text.contains("ferry_stream_events_total 2"))
            #expect(text.contains("ferry_stream_acks_stored_total 3"))
            #expect(text.contains("ferry_streams_open 0"))
        }
    }

    /// A client that goes away mid-stream stops the server's reading: the next write to the
    /// closed connection throws, and no page after it is read.
    @Test(.tags(.realTime)) func aClosedConnectionStopsTheReading() async throws {
        try await TestServer.with(configuration: ServerConfiguration(streamPageSize: 100)) { server in
            let token = try await server.token("big")
            let payload = JSONValue.object(["text": .string(String(repeating: "x", count: 2000))]).serialized()
            for batch in 0..<20 {
                let mutations = (1...1000).map { index in
                    NewMutation(
                        clientActionID: Int64(batch * 1000 + index),
                        entity: "note",
                        entityKey: "k\(index)",
                        op: .upsert,
                        payload: payload,
                        baseSeq: nil,
                        clientTimestamp: nil
                    )
                }
                _ = try await server.eventLog.append(AppendBatch(space: "big", deviceID: "w", sessionID: "s", mutations: mutations))
            }
            var request = HTTPClientRequest(url: server.http.baseURL + "/sync/stream")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.body = .bytes(ByteBuffer(bytes: Array(streamBody("big", types: ["note"]))))
            let response = try await server.http.client.execute(request, timeout: .seconds(30))
            #expect(response.status == .ok)
            var received = 0
            for try await buffer in response.body {
                received += buffer.readableBytes
                if received > 100_000 { break }
            }
            // 20,000 events of ~2 KB are 200 pages of 100; the socket buffers hold a few MB.
            let deadline = ContinuousClock.now.advanced(by: .seconds(20))
            var open = true
            while open && ContinuousClock.now < deadline {
                open = try await server.request(.GET, "/metrics").text.contains("ferry_streams_open 1")
                if open { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(!open, "the stream is still open 20 s after its client left")
            let read = server.outage.streamPagesRead
            #expect(read < 100, "\(read) of 200 pages were read for a client that left after 100 KB")
        }
    }
}
