import FerryCore
import FerryTestSupport
import Foundation
import Testing

/// `ferry serve --memory` as a user runs it: the log in memory, the tokens in the data folder.
@Suite(.serialized) struct MemoryServerProcessTests {
    @Test func tokensMadeByTokenCreateWorkAndTheLogIsEmptyAfterARestart() async throws {
        let folder = try TemporaryFolder()
        let data = folder.path("data")
        try await FerryTestClient.withHTTPClient { client in
            let first = try await ServerProcess(arguments: ["--memory", "--data", data])
            #expect(first.printed.contains("(memory, tokens: \(data))"))
            let created = try ferry(["token", "create", "--data", data, "--space", "notes", "--json"])
            #expect(created.status == 0, "\(created.output)")
            let token = try JSONDecoder().decode(TokenPair.self, from: Data(created.output.utf8)).accessToken

            let http = FerryTestClient(baseURL: first.baseURL, client: client)
            let pushed = try await http.push(.make(space: "notes", [.upsert(1, key: "a"), .upsert(2, key: "b")]), token: token)
            #expect(pushed.status == 200)
            let page = try await http.pull("space=notes&since_seq=0", token: token).decode(PullResponse.self)
            #expect(page.mutations.map(\.entityKey) == ["a", "b"])
            #expect(try await first.stop(signal: SIGTERM) == 0)

            let second = try await ServerProcess(arguments: ["--memory", "--data", data])
            #expect(second.printedValue(after: "access token:") == nil, "the data folder's tokens outlive the log")
            let again = try await FerryTestClient(baseURL: second.baseURL, client: client)
                .pull("space=notes&since_seq=0", token: token).decode(PullResponse.self)
            #expect(again.mutations.isEmpty && again.headSeq == 0)
            #expect(again.logID != page.logID)
            #expect(try await second.stop(signal: SIGTERM) == 0)
        }
    }

    @Test func memoryAndPostgresTogetherIsAValidationError() throws {
        let result = try ferry(["serve", "--memory", "--postgres", "postgresql://u@127.0.0.1:1/db"])
        #expect(result.status != 0)
        #expect(result.output.contains("choose one"), "\(result.output)")
    }
}
