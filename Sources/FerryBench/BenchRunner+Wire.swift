import AsyncHTTPClient
import CompressNIO
import FerryCompression
import FerryCore
import Foundation
import NIOCore
import NIOHTTP1

/// What one pass of the `wire` workload counted.
struct WireTally {
    /// Request and answer bodies as sent on the wire (compressed when they were).
    var bodyBytes = 0
    /// Request and answer heads: request line, status line and header fields, as counted
    /// from what the bench set and what it received (AsyncHTTPClient's own `Host`,
    /// `Content-Length` and chunked framing are estimated, not read off the socket).
    var headerBytes = 0
    /// Time spent compressing and decompressing in this process (the client's share).
    var codecSeconds = 0.0
    /// CPU seconds of this process and of the server child over the pass.
    var clientCPU = 0.0
    var serverCPU = 0.0
    var elapsed = 0.0
}

extension BenchRunner {
    /// `wire`: bytes on the wire per mutation, and the CPU they cost, for a push of N
    /// mutations (batches of the plan's size, one client) and a pull of them from zero
    /// (default page size), each sent plainly and with gzip (pushes compressed by the client,
    /// pages compressed by the server for `Accept-Encoding: gzip`). Counts what a raw HTTP
    /// client sends and receives: bodies as sent, heads as counted. No ceiling: the figures
    /// compare the two codings.
    func runWire() async throws {
        let rounds = plan.rounds
        let spaces = (1...rounds).flatMap { ["wire-identity-r\($0)", "wire-gzip-r\($0)"] }
        try await withServer("wire", spaces: spaces, keepsCompression: true) { server in
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            let figures: [String: [WireTally]]
            do {
                figures = try await wireRounds(client, server: server, rounds: rounds)
                try? await client.shutdown()
            } catch {
                try? await client.shutdown()
                throw error
            }
            for route in ["push", "pull"] {
                let plain = figures["\(route)_identity"] ?? []
                for coding in ["identity", "gzip"] {
                    let tallies = figures["\(route)_\(coding)"] ?? []
                    record(Self.wireResult(route: route, coding: coding, tallies, plain: plain, count: plan.count, store: storeName))
                }
            }
        }
    }

    /// The rounds of the `wire` workload: each pushes N fresh mutations into a space of its
    /// own and pulls them back, plainly, then with gzip.
    private func wireRounds(_ client: HTTPClient, server: BenchServer, rounds: Int) async throws -> [String: [WireTally]] {
        var figures: [String: [WireTally]] = [:]
        for round in 1...rounds {
            for gzip in [false, true] {
                let coding = gzip ? "gzip" : "identity"
                let space = server.space("wire-\(coding)-r\(round)")
                let range = freshRecords(plan.count)
                progress.show("wire: push of \(plan.count) mutations, \(coding), round \(round)/\(rounds)")
                let push = try await Self.wirePush(client, server: server, space: space, range: range, batch: plan.batchSize, gzip: gzip)
                figures["push_\(coding)", default: []].append(push)
                progress.show("wire: pull of \(plan.count) mutations, \(coding), round \(round)/\(rounds)")
                let pull = try await Self.wirePull(client, server: server, space: space, expected: plan.count, gzip: gzip)
                figures["pull_\(coding)", default: []].append(pull)
            }
        }
        return figures
    }

    /// One result row: bytes per mutation (bodies and heads) as the value, the rest as extras.
    private static func wireResult(
        route: String,
        coding: String,
        _ tallies: [WireTally],
        plain: [WireTally],
        count: Int,
        store: String
    )
        -> BenchResult
    {
        let perMutation = { (value: Double) in value / Double(max(1, count)) }
        let bytes = tallies.map { perMutation(Double($0.bodyBytes + $0.headerBytes)) }
        var result = BenchResult(
            workload: "wire_\(route)_\(coding)",
            store: store,
            clients: 1,
            stats: BenchStats(bytes),
            unit: "B/mutation"
        )
        let median = { (values: [Double]) in BenchStats(values).median }
        result.extra.append(("body_B_per_mutation", median(tallies.map { perMutation(Double($0.bodyBytes)) })))
        result.extra.append(("head_B_per_mutation", median(tallies.map { perMutation(Double($0.headerBytes)) })))
        let plainBytes = median(plain.map { Double($0.bodyBytes + $0.headerBytes) })
        if coding != "identity", plainBytes > 0 {
            let ratio = median(tallies.map { Double($0.bodyBytes + $0.headerBytes) }) / plainBytes
            result.extra.append(("of_identity_pct", ratio * 100))
        }
        result.extra.append(("client_codec_us_per_mutation", median(tallies.map { perMutation($0.codecSeconds * 1e6) })))
        result.extra.append(("client_cpu_us_per_mutation", median(tallies.map { perMutation($0.clientCPU * 1e6) })))
        result.extra.append(("server_cpu_us_per_mutation", median(tallies.map { perMutation($0.serverCPU * 1e6) })))
        result.extra.append(("mutations_per_s", median(tallies.map { Double(count) / max($0.elapsed, 1e-9) })))
        return result
    }

    /// Pushes records `range` into `space` in batches, each body compressed with gzip when
    /// `gzip` (the server advertises it: it is a Ferry server started with its defaults).
    private static func wirePush(
        _ client: HTTPClient,
        server: BenchServer,
        space: String,
        range: Range<Int>,
        batch: Int,
        gzip: Bool
    )
        async throws -> WireTally
    {
        let target = "/sync/mutations/push"
        return try await measuringCPU(of: server) { tally in
            for part in BenchRecords.batches(range, size: batch) {
                let request = PushRequest(space: space, deviceID: "d-wire", sessionID: "s-1", mutations: BenchRecords.inputs(part))
                var body = ByteBuffer(bytes: request.jsonBytes())
                var headers = HTTPHeaders([
                    ("Authorization", "Bearer \(server.token)"), ("Content-Type", "application/json"), ("Accept", "application/json"),
                ])
                if gzip {
                    let codec = ContinuousClock.now
                    body = try body.compress(with: Gzip.algorithm)
                    tally.codecSeconds += (ContinuousClock.now - codec).seconds
                    headers.add(name: "Content-Encoding", value: "gzip")
                    headers.add(name: "Accept-Encoding", value: "gzip")
                }
                let answer = try await send(
                    client,
                    server: server,
                    method: .POST,
                    target: target,
                    headers: headers,
                    body: body,
                    tally: &tally
                )
                guard (try? PushResponse(jsonBytes: answer.readableBytesView)) != nil else {
                    throw BenchError("wire: the push answer is not a push response")
                }
            }
        }
    }

    /// Pulls `space` from zero to its head, asking for gzip when `gzip`.
    private static func wirePull(
        _ client: HTTPClient,
        server: BenchServer,
        space: String,
        expected: Int,
        gzip: Bool
    ) async throws
        -> WireTally
    {
        try await measuringCPU(of: server) { tally in
            var since: Int64 = 0
            var received = 0
            while true {
                var headers = HTTPHeaders([("Authorization", "Bearer \(server.token)"), ("Accept", "application/json")])
                if gzip { headers.add(name: "Accept-Encoding", value: "gzip") }
                let target = "/sync/mutations/pull?space=\(space)&since_seq=\(since)"
                let answer = try await send(
                    client,
                    server: server,
                    method: .GET,
                    target: target,
                    headers: headers,
                    body: nil,
                    tally: &tally
                )
                guard let page = try? PullResponse(jsonBytes: answer.readableBytesView) else {
                    throw BenchError("wire: the pull answer is not a pull page")
                }
                received += page.mutations.count
                since = page.latestSeq
                if !page.hasMore { break }
            }
            guard received >= expected else { throw BenchError("wire: pulled \(received) of \(expected) mutations") }
        }
    }

    /// Runs one pass with a new tally, then sets on it the pass's wall time and the CPU this
    /// process and the server child used meanwhile.
    private static func measuringCPU(of server: BenchServer, _ pass: (inout WireTally) async throws -> Void) async throws -> WireTally {
        let serverPID = server.process?.process.processIdentifier
        let clientBefore = ProcessCPU.seconds() ?? 0
        let serverBefore = serverPID.flatMap { ProcessCPU.seconds(of: $0) } ?? 0
        let start = ContinuousClock.now
        var tally = WireTally()
        try await pass(&tally)
        tally.elapsed = (ContinuousClock.now - start).seconds
        tally.clientCPU = (ProcessCPU.seconds() ?? 0) - clientBefore
        tally.serverCPU = (serverPID.flatMap { ProcessCPU.seconds(of: $0) } ?? 0) - serverBefore
        return tally
    }

    /// Sends one request and reads its answer; counts both on `tally`; answers the body,
    /// decompressed (timed on `tally`) when the server compressed it.
    private static func send(
        _ client: HTTPClient,
        server: BenchServer,
        method: HTTPMethod,
        target: String,
        headers: HTTPHeaders,
        body: ByteBuffer?,
        tally: inout WireTally
    ) async throws -> ByteBuffer {
        var request = HTTPClientRequest(url: server.baseURL + target)
        request.method = method
        request.headers = headers
        if let body { request.body = .bytes(body) }
        let host = server.baseURL.split(separator: "/").dropFirst(1).first.map(String.init) ?? ""
        // "METHOD target HTTP/1.1\r\n", the fields, "Host", "Content-Length" when a body goes, "\r\n".
        tally.headerBytes += method.rawValue.utf8.count + target.utf8.count + 11
        tally.headerBytes += headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 } + 8 + host.utf8.count + 2
        if let body {
            tally.headerBytes += 18 + String(body.readableBytes).utf8.count
            tally.bodyBytes += body.readableBytes
        }
        let response = try await client.execute(request, timeout: .seconds(120))
        var answer = try await response.body.collect(upTo: 256 << 20)
        tally.headerBytes += 17 + response.status.reasonPhrase.utf8.count
        tally.headerBytes += response.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 } + 2
        tally.bodyBytes += answer.readableBytes
        guard response.status == .ok else {
            throw BenchError("wire: \(method.rawValue) \(target.prefix { $0 != "?" }) answered \(response.status.code)")
        }
        if response.headers["Content-Encoding"].contains("gzip") {
            let codec = ContinuousClock.now
            answer = try answer.decompress(with: .gzip(), maxSize: 256 << 20)
            tally.codecSeconds += (ContinuousClock.now - codec).seconds
        }
        return answer
    }
}
