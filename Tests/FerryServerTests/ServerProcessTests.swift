import AsyncHTTPClient
import FerryCore
import FerryTestSupport
import Foundation
import Testing

/// The `ferry serve` command as a user runs it: a child process over loopback.
@Suite(.serialized, .tags(.realTime)) struct ServerProcessTests {
    @Test func aFirstStartPrintsATokenAndPushesSurviveSIGKILL() async throws {
        let folder = try TemporaryFolder()
        try await FerryTestClient.withHTTPClient { client in
            let first = try await ServerProcess(arguments: ["--data", folder.path("data")])
            let token = try #require(first.printedValue(after: "access token:"))
            let http = FerryTestClient(baseURL: first.baseURL, client: client)
            var acked: [Int64] = []
            for batch in 0..<5 {
                let mutations = (1...100).map { MutationInput.upsert(Int64(batch * 100 + $0), key: "k\(batch)-\($0)") }
                let answer = try await http.push(.make(space: "default", mutations), token: token)
                #expect(answer.status == 200)
                acked += try answer.decode(PushResponse.self).acks.map(\.seq)
            }
            // Killed right after the last answer: no chance to flush or close anything.
            try await first.stop(signal: SIGKILL)
            #expect(acked == Array(1...500))

            let second = try await ServerProcess(arguments: ["--data", folder.path("data")])
            #expect(second.printedValue(after: "access token:") == nil, "the token is printed on the first start only")
            let again = FerryTestClient(baseURL: second.baseURL, client: client)
            var seqs: [Int64] = []
            var cursor: Int64 = 0
            while true {
                let page = try await again.pull("space=default&since_seq=\(cursor)", token: token).decode(PullResponse.self)
                seqs += page.mutations.map(\.seq)
                cursor = page.latestSeq
                if !page.hasMore { break }
            }
            #expect(seqs == acked)
            #expect(try await second.stop(signal: SIGTERM) == 0)
        }
    }

    @Test func sigtermAnswersLongPollsAndExitsCleanly() async throws {
        let folder = try TemporaryFolder()
        try await FerryTestClient.withHTTPClient { client in
            let server = try await ServerProcess(arguments: ["--data", folder.path("data")])
            let token = try #require(server.printedValue(after: "access token:"))
            let http = FerryTestClient(baseURL: server.baseURL, client: client)
            let start = ContinuousClock.now
            async let held = http.pull("space=default&since_seq=0&wait=30", token: token)
            try await Task.sleep(for: .milliseconds(300))
            let status = try await server.stop(signal: SIGTERM)
            let answer = try await held
            #expect(status == 0)
            #expect(answer.status == 200)
            #expect(try answer.decode(PullResponse.self).mutations.isEmpty)
            #expect(ContinuousClock.now - start < .seconds(10))
        }
    }
}
