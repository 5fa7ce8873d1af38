import FerryCore
import FerryServer
import FerryTestSupport
import Foundation
import NIOHTTP1
import Testing

/// Push and pull through the server's routes: in process (HummingbirdTesting's `.router`
/// framework) where no socket is needed, over loopback for concurrency and long-polls.
@Suite struct PushPullHTTPTests {
    @Test func seqsFollowRequestOrderAndSpacesAreApart() async throws {
        try await TestServer.inProcess { server in
            let token = try await server.token("notes", "tasks")
            let first = try await server.push(.make(space: "notes", [.upsert(1, key: "a"), .upsert(2, key: "b")]), token: token)
            #expect(first.status == 200)
            let answer = try first.decode(PushResponse.self)
            #expect(answer.acks == [MutationAck(clientActionID: 1, seq: 1), MutationAck(clientActionID: 2, seq: 2)])
            #expect(answer.accepted == 2)
            #expect(answer.headSeq == 2)

            let other = try await server.push(.make(space: "tasks", [.upsert(1, key: "a")]), token: token).decode(PushResponse.self)
            #expect(other.acks.map(\.seq) == [1])
            #expect(other.logID != answer.logID)

            let page = try await server.pull("space=notes&since_seq=0", token: token).decode(PullResponse.self)
            #expect(page.mutations.map(\.seq) == [1, 2])
            #expect(page.mutations.map(\.entityKey) == ["a", "b"])
            #expect(page.latestSeq == 2)
            #expect(page.headSeq == 2)
            #expect(!page.hasMore)
            #expect(page.logID == answer.logID)
        }
    }

    @Test func aRepeatedPushStoresNothingAndAnInvalidMutationSparesTheOthers() async throws {
        try await TestServer.inProcess { server in
            let token = try await server.token("notes")
            let push = PushRequest.make(space: "notes", [.upsert(1, key: "a"), .upsert(2, key: "b")])
            _ = try await server.push(push, token: token)
            let again = try await server.push(push, token: token).decode(PushResponse.self)
            #expect(again.accepted == 0)
            #expect(
                again.rejected == [
                    MutationRejection(clientActionID: 1, reason: .duplicate, seq: 1),
                    MutationRejection(clientActionID: 2, reason: .duplicate, seq: 2),
                ]
            )
            #expect(try await server.storedMutationCount() == 2)

            var bad = MutationInput.upsert(4, key: "d")
            bad.op = MutationOp(rawValue: "frobnicate")
            let mixed = try await server.push(
                .make(space: "notes", [.upsert(3, key: "c"), bad, .upsert(5, key: "e")]),
                token: token
            ).decode(PushResponse.self)
            #expect(mixed.acks.map(\.clientActionID) == [3, 5])
            #expect(mixed.acks.map(\.seq) == [3, 4])
            #expect(mixed.rejected.count == 1)
            #expect(mixed.rejected.first?.clientActionID == 4)
            #expect(mixed.rejected.first?.reason == .invalid)
            #expect(mixed.rejected.first?.message?.contains("op") == true)
            #expect(try await server.storedMutationCount() == 4)
        }
    }

    @Test(arguments: [
        ("entity", #"{"client_action_id":1,"entity":"9bad","entity_key":"k","op":"upsert","payload":{}}"#),
        ("entity_key", #"{"client_action_id":1,"entity":"note","entity_key":"","op":"upsert","payload":{}}"#),
        ("payload", #"{"client_action_id":1,"entity":"note","entity_key":"k","op":"upsert","payload":[1]}"#),
        ("payload", #"{"client_action_id":1,"entity":"note","entity_key":"k","op":"patch"}"#),
        ("client_action_id", #"{"client_action_id":0,"entity":"note","entity_key":"k","op":"upsert","payload":{}}"#),
        ("base_seq", #"{"client_action_id":1,"entity":"note","entity_key":"k","op":"upsert","payload":{},"base_seq":-1}"#),
        (
            "client_timestamp",
            #"{"client_action_id":1,"entity":"note","entity_key":"k","op":"upsert","payload":{},"client_timestamp":"yesterday"}"#
        ),
    ])
    func invalidMutationsAreRejectedOneByOne(field: String, mutation: String) async throws {
        try await TestServer.inProcess { server in
            let token = try await server.token("notes")
            let body =
                #"{"space":"notes","device_id":"d","session_id":"s","mutations":[\#(mutation),{"client_action_id":2,"entity":"note","entity_key":"ok","op":"delete"}]}"#
            let answer = try await server.request(.POST, "/sync/mutations/push", token: token, body: Data(body.utf8))
            #expect(answer.status == 200)
            let push = try answer.decode(PushResponse.self)
            #expect(push.acks.map(\.clientActionID) == [2])
            #expect(push.rejected.map(\.reason) == [.invalid])
            #expect(push.rejected.first?.message?.contains(field) == true)
        }
    }

    @Test func excludeDeviceAdvancesThroughOwnMutationsAndLimitsAreKept() async throws {
        try await TestServer.inProcess { server in
            let token = try await server.token("notes")
            _ = try await server.push(.make(space: "notes", device: "mine", (1...3).map { .upsert($0, key: "k\($0)") }), token: token)
            let own = try await server.pull("space=notes&since_seq=0&exclude_device=mine", token: token).decode(PullResponse.self)
            #expect(own.mutations.isEmpty)
            #expect(own.latestSeq == 3)
            #expect(!own.hasMore)

            // 6000 mutations: a limit above 5000 is 5000.
            for batch in 0..<6 {
                let mutations = (1...1000).map { MutationInput.upsert(Int64(batch * 1000 + $0), key: "x\($0)") }
                let answer = try await server.push(.make(space: "notes", device: "bulk", mutations), token: token)
                #expect(answer.status == 200)
            }
            let big = try await server.pull("space=notes&since_seq=0&limit=99999999999999999999999", token: token).decode(PullResponse.self)
            #expect(big.mutations.count == 5000)
            #expect(big.latestSeq == 5000)
            #expect(big.hasMore)
            // Exactly the rest: has_more turns false at the boundary.
            let rest = try await server.pull("space=notes&since_seq=5000&limit=1003", token: token).decode(PullResponse.self)
            #expect(rest.mutations.count == 1003)
            #expect(rest.latestSeq == 6003)
            #expect(!rest.hasMore)
            let defaultPage = try await server.pull("space=notes&since_seq=0", token: token).decode(PullResponse.self)
            #expect(defaultPage.mutations.count == 500)
        }
    }

    @Test func aCursorAboveTheHeadAndMalformedQueriesAreRefused() async throws {
        try await TestServer.inProcess { server in
            let token = try await server.token("notes")
            _ = try await server.push(.make(space: "notes", [.upsert(1, key: "a")]), token: token)
            let ahead = try await server.pull("space=notes&since_seq=2", token: token)
            #expect(ahead.status == 409)
            #expect(ahead.errorCode == "cursor_ahead")
            for query in [
                "space=notes", "space=notes&since_seq=-1", "space=notes&since_seq=abc", "space=notes&since_seq=1.5",
                "since_seq=0", "space=Bad!&since_seq=0", "space=notes&since_seq=0&limit=0",
                "space=notes&since_seq=0&limit=x", "space=notes&since_seq=0&wait=61", "space=notes&since_seq=0&wait=-1",
            ] {
                let answer = try await server.pull(query, token: token)
                #expect(answer.status == 400, "\(query)")
                #expect(answer.errorCode == "bad_request", "\(query)")
            }
        }
    }

    @Test func conflictsAreReportedForOtherDevicesWritesOnly() async throws {
        try await TestServer.inProcess { server in
            let token = try await server.token("notes")
            _ = try await server.push(.make(space: "notes", device: "A", [.upsert(1, key: "n1", baseSeq: 0)]), token: token)
            let own = try await server.push(.make(space: "notes", device: "A", [.upsert(2, key: "n1", baseSeq: 0)]), token: token)
            #expect(try own.decode(PushResponse.self).conflicts.isEmpty)
            let other = try await server.push(.make(space: "notes", device: "B", [.upsert(1, key: "n1", baseSeq: 1)]), token: token)
            let answer = try other.decode(PushResponse.self)
            #expect(answer.acks.map(\.seq) == [3])
            #expect(answer.conflicts == [ConflictReport(clientActionID: 1, entity: "note", entityKey: "n1", baseSeq: 1, currentSeq: 2)])
        }
    }

    @Test func concurrentPushersAndPullersSeeOneGaplessLog() async throws {
        try await TestServer.with { server in
            let token = try await server.token("busy")
            let pushers = 16
            let batches = 10
            let perBatch = 50
            let accepted = try await withThrowingTaskGroup(of: Int.self) { group in
                for pusher in 0..<pushers {
                    group.addTask {
                        var accepted = 0
                        for batch in 0..<batches {
                            let mutations = (1...perBatch).map {
                                MutationInput.upsert(Int64(batch * perBatch + $0), key: "p\(pusher)-\($0)")
                            }
                            let answer = try await server.push(.make(space: "busy", device: "dev-\(pusher)", mutations), token: token)
                            accepted += try answer.decode(PushResponse.self).accepted
                        }
                        return accepted
                    }
                }
                for _ in 0..<2 {
                    group.addTask {
                        // Pull while the pushers run, then to the end.
                        var cursor: Int64 = 0
                        var seen: [Int64] = []
                        var quietRounds = 0
                        while quietRounds < 3 {
                            let page = try await server.pull("space=busy&since_seq=\(cursor)&limit=137", token: token)
                                .decode(PullResponse.self)
                            seen += page.mutations.map(\.seq)
                            cursor = page.latestSeq
                            if page.mutations.isEmpty && cursor >= Int64(pushers * batches * perBatch) {
                                quietRounds += 1
                            }
                        }
                        #expect(seen == Array(1...Int64(pushers * batches * perBatch)))
                        return 0
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(accepted == pushers * batches * perBatch)
            let head = try await server.pull("space=busy&since_seq=0&limit=1", token: token).decode(PullResponse.self).headSeq
            #expect(head == Int64(accepted))
        }
    }

    @Test func aLongPollWithExcludeDeviceKeepsWaitingThroughOwnWrites() async throws {
        try await TestServer.with { server in
            let token = try await server.token("live")
            async let waited = server.pull("space=live&since_seq=0&wait=20&exclude_device=me", token: token)
            // Once the pull is held, an own write wakes it; it reads nothing it may see and
            // waits again (a second wait starts) until another device writes.
            await server.waiters.waitUntilStarted(1)
            _ = try await server.push(.make(space: "live", device: "me", [.upsert(1, key: "mine")]), token: token)
            await server.waiters.waitUntilStarted(2)
            #expect(server.waiters.counts.current == 1)
            _ = try await server.push(.make(space: "live", device: "you", [.upsert(1, key: "yours")]), token: token)
            let page = try await waited.decode(PullResponse.self)
            #expect(page.mutations.map(\.entityKey) == ["yours"])
            #expect(page.latestSeq == 2)
            #expect(server.waiters.counts.started == 2)
        }
    }
}
