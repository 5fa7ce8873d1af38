import AsyncHTTPClient
import FerryCore
import FerryServer
import FerryTestSupport
import Foundation
import NIOHTTP1
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

    @Test func anAdminTokenAndAnHS256JWTThroughTheCommand() async throws {
        let folder = try TemporaryFolder()
        let data = folder.path("data")
        #expect(try ferry(["token", "create", "--data", data, "--admin", "--space", "notes"]).status != 0)
        let created = try ferry(["token", "create", "--data", data, "--admin", "--json"])
        #expect(created.status == 0, "\(created.output)")
        let admin = try JSONDecoder().decode(IssuedTokens.self, from: Data(created.output.utf8))
        #expect(admin.spaces.isEmpty)
        let listed = try ferry(["token", "list", "--data", data])
        #expect(listed.output.contains("\(admin.grantID)  admin"), "\(listed.output)")

        let key = JWTTestKey.hs256()
        guard case .hmac(let secret) = key.material else { return }
        let secretFile = folder.path("secret")
        try Data(secret + [UInt8(ascii: "\n")]).write(to: URL(fileURLWithPath: secretFile))
        #expect(try ferry(["serve", "--data", data, "--jwt-hs256-secret-file", secretFile, "--jwks", secretFile]).status != 0)
        try await FerryTestClient.withHTTPClient { client in
            let server = try await ServerProcess(arguments: [
                "--data", data, "--jwt-hs256-secret-file", secretFile, "--jwt-issuer", "https://id.example.com/",
            ])
            let http = FerryTestClient(baseURL: server.baseURL, client: client)
            let issued = try await http.request(
                .POST,
                "/admin/tokens",
                token: admin.accessToken,
                body: Data(#"{"spaces":["notes"],"ttl":600}"#.utf8)
            )
            #expect(issued.status == 201, "\(issued.text)")
            let device = try issued.decode(IssuedTokens.self)
            #expect(try await http.pull("space=notes&since_seq=0", token: device.accessToken).status == 200)
            #expect(try await http.pull("space=notes&since_seq=0", token: admin.accessToken).status == 403)

            let now = Int64(Date().timeIntervalSince1970)
            let claims: [String: Any] = ["sub": "u1", "exp": now + 300, "iss": "https://id.example.com/", "spaces": ["notes"]]
            #expect(try await http.pull("space=notes&since_seq=0", token: try key.sign(claims)).status == 200)
            var wrongIssuer = claims
            wrongIssuer["iss"] = "https://other.example.com/"
            #expect(try await http.pull("space=notes&since_seq=0", token: try key.sign(wrongIssuer)).status == 401)
            #expect(try await server.stop(signal: SIGTERM) == 0)
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
