import FerryCore
import FerryServer
import FerryTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import Testing

/// The read-only admin routes of the operator console.
private let consoleRoutes = ["/admin/spaces", "/admin/spaces/notes", "/admin/conflicts", "/admin/health"]

/// Decodes the console's snake_case bodies into camelCase properties.
private let snakeDecoder: JSONDecoder = {
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return decoder
}()

/// A console body that was not what a test expected.
private struct ConsoleBodyError: Error, CustomStringConvertible {
    var description: String
}

extension HTTPAnswer {
    /// The body as one of the console's bodies.
    fileprivate func console<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            return try snakeDecoder.decode(T.self, from: body)
        } catch {
            throw ConsoleBodyError(description: "could not decode \(T.self) from \(status) \(text): \(error)")
        }
    }
}

/// `GET /admin/spaces`.
private struct Spaces: Decodable {
    struct Space: Decodable {
        var space: String
        var logId: String
        var headSeq: Int64
        var floorSeq: Int64
        var mutations: Int64
        var lastWriteAt: String?
        var writesPerMinute: Int64
        var writesPerMinuteCapped: Bool
        var devices: Int
    }
    var spaces: [Space]
    var nextAfter: String?
}

/// `GET /admin/spaces/{space}`.
private struct Space: Decodable {
    struct Device: Decodable {
        var deviceId: String
        var lastSeenAt: String
        var lastPushAt: String?
        var lastPullAt: String?
        var lastPushedSeq: Int64?
        var cursor: Int64?
        var lag: Int64?
    }
    struct Checkpoint: Decodable, Equatable {
        var deviceId: String
        var type: String
        var seq: Int64
        var lag: Int64
        var currentLog: Bool
    }
    var space: String
    var headSeq: Int64
    var floorSeq: Int64
    var mutations: Int64
    var lastWriteAt: String?
    var devices: [Device]
    var checkpoints: [Checkpoint]
    var checkpointsTruncated: Bool
}

/// `GET /admin/conflicts`.
private struct Conflicts: Decodable {
    struct Conflict: Decodable, Equatable {
        var space: String
        var deviceId: String
        var at: String
        var clientActionId: Int64
        var entity: String
        var entityKey: String
        var baseSeq: Int64
        var currentSeq: Int64
    }
    var conflicts: [Conflict]
}

/// `GET /admin/health`.
private struct Health: Decodable {
    struct Storage: Decodable {
        var kind: String
        var reachable: Bool
        var checkMs: Int64
    }
    struct Registry: Decodable {
        var spaces: Int
        var devices: Int
        var conflicts: Int
        var maxDevicesPerSpace: Int
    }
    var status: String
    var storage: Storage
    var startedAt: String
    var uptimeSeconds: Int64
    var registry: Registry
}

/// The operator console over real HTTP: the page, and the admin API it reads, with the figures
/// that pushes and pulls of test clients leave.
@Suite struct ConsoleHTTPTests {
    @Test func theConsoleDataNeedsAnAdminToken() async throws {
        try await TestServer.with { server in
            let notes = try await server.token("notes")
            for path in consoleRoutes {
                let missing = try await server.request(.GET, path)
                #expect(missing.status == 401 && missing.errorCode == "unauthorized", "\(path)")
                let unknown = try await server.request(.GET, path, token: "nope")
                #expect(unknown.status == 401, "\(path)")
                let forbidden = try await server.request(.GET, path, token: notes)
                #expect(forbidden.status == 403 && forbidden.errorCode == "forbidden", "\(path)")
            }
        }
    }

    @Test func thePageIsServedWithoutAuthAndHoldsNoData() async throws {
        try await TestServer.with { server in
            let notes = try await server.token("notes")
            _ = try await server.push(.make(space: "notes", [.upsert(1, key: "secret-record")]), token: notes)
            for (path, type) in [
                ("/console", "text/html"), ("/console/console.js", "text/javascript"), ("/console/console.css", "text/css"),
            ] {
                let answer = try await server.request(.GET, path)
                #expect(answer.status == 200, "\(path)")
                #expect(answer.headers["Content-Type"].first?.hasPrefix(type) == true, "\(path)")
                let policy = try #require(answer.headers["Content-Security-Policy"].first)
                #expect(policy.contains("default-src 'none'") && policy.contains("script-src 'self'") && !policy.contains("unsafe"))
                #expect(answer.headers["Cache-Control"].first == "no-store")
                #expect(!answer.text.contains("secret-record") && !answer.text.contains("notes"))
            }
            let page = try await server.request(.GET, "/console")
            #expect(page.text.contains(#"id="signin-form""#))
            let script = try await server.request(.GET, "/console/console.js")
            #expect(script.text.contains("sessionStorage"))
            #expect(!script.text.contains("innerHTML"), "data goes into the page as text only")
            #expect(!script.text.contains("localStorage"))
        }
    }

    @Test func spacesDevicesLagConflictsAndCheckpoints() async throws {
        let clock = ManualWallClock()
        try await TestServer.with(wallClock: clock.clock) { server in
            let admin = try await server.tokens.issue(spaces: [], accessTTL: 3600, admin: true).accessToken
            let notes = try await server.token("notes")
            let empty = try await server.request(.GET, "/admin/spaces", token: admin)
            #expect(try empty.console(Spaces.self).spaces.isEmpty)

            // Device A writes three records two minutes ago, B pulls them, A writes two more now.
            let push1 = try await server.push(
                .make(space: "notes", device: "A", [.upsert(1, key: "n1", baseSeq: 0), .upsert(2, key: "n2"), .upsert(3, key: "n3")]),
                token: notes
            )
            #expect(push1.status == 200)
            clock.advance(seconds: 120)
            let pulled = try await server.pull("space=notes&since_seq=0&exclude_device=B", token: notes)
            #expect(pulled.status == 200)
            _ = try await server.pull("space=notes&since_seq=0", token: notes)  // names no device: not recorded
            _ = try await server.push(.make(space: "notes", device: "A", [.upsert(4, key: "n4"), .upsert(5, key: "n5")]), token: notes)

            let listing = try await server.request(.GET, "/admin/spaces", token: admin)
            #expect(listing.status == 200, "\(listing.text)")
            let spaces = try listing.console(Spaces.self)
            let space = try #require(spaces.spaces.first)
            #expect(spaces.spaces.count == 1 && spaces.nextAfter == nil)
            #expect(space.space == "notes" && space.headSeq == 5 && space.mutations == 5 && space.floorSeq == 0)
            #expect(space.writesPerMinute == 2, "the first three were written two minutes ago")
            #expect(!space.writesPerMinuteCapped)
            #expect(space.lastWriteAt == RFC3339.format(millisecondsSince1970: clock.clock.nowMilliseconds()))
            #expect(space.devices == 2)

            var detail = try await server.request(.GET, "/admin/spaces/notes", token: admin).console(Space.self)
            #expect(detail.headSeq == 5 && detail.mutations == 5)
            #expect(detail.devices.map(\.deviceId) == ["A", "B"], "most recently seen first")
            let a = try #require(detail.devices.first)
            #expect(a.lastPushedSeq == 5 && a.cursor == nil && a.lag == nil && a.lastPullAt == nil && a.lastPushAt != nil)
            let b = try #require(detail.devices.last)
            #expect(b.cursor == 3 && b.lag == 2 && b.lastPushAt == nil && b.lastPullAt == b.lastSeenAt)

            // B catches up; its lag drops to 0.
            _ = try await server.pull("space=notes&since_seq=3&exclude_device=B", token: notes)
            detail = try await server.request(.GET, "/admin/spaces/notes", token: admin).console(Space.self)
            #expect(detail.devices.first { $0.deviceId == "B" }?.lag == 0)

            // B writes n1 on version 0 while A's write of it is seq 1: a conflict, reported and kept.
            let stale = try await server.push(.make(space: "notes", device: "B", [.upsert(1, key: "n1", baseSeq: 0)]), token: notes)
            #expect(try stale.decode(PushResponse.self).conflicts.count == 1)
            let conflicts = try await server.request(.GET, "/admin/conflicts", token: admin).console(Conflicts.self).conflicts
            #expect(
                conflicts.map { [$0.space, $0.deviceId, $0.entity, $0.entityKey] } == [["notes", "B", "note", "n1"]]
            )
            #expect(conflicts.first?.baseSeq == 0 && conflicts.first?.currentSeq == 1 && conflicts.first?.clientActionId == 1)
            #expect(try await server.request(.GET, "/admin/conflicts?limit=1", token: admin).status == 200)

            // Stream checkpoints: B acknowledges notes up to 3.
            let ack = try await server.request(
                .POST,
                "/sync/ack",
                token: notes,
                body: Data(#"{"space":"notes","device_id":"B","acks":["note|3","SyncComplete|6"]}"#.utf8)
            )
            #expect(ack.status == 204, "\(ack.text)")
            detail = try await server.request(.GET, "/admin/spaces/notes", token: admin).console(Space.self)
            #expect(
                detail.checkpoints == [
                    Space.Checkpoint(deviceId: "B", type: "SyncComplete", seq: 6, lag: 0, currentLog: true),
                    Space.Checkpoint(deviceId: "B", type: "note", seq: 3, lag: 3, currentLog: true),
                ]
            )
            #expect(!detail.checkpointsTruncated)

            let health = try await server.request(.GET, "/admin/health", token: admin)
            #expect(health.status == 200)
            let body = try health.console(Health.self)
            #expect(body.status == "ok" && body.storage.reachable && body.uptimeSeconds >= 0)
            #expect(body.registry.spaces == 1 && body.registry.devices == 2 && body.registry.conflicts == 1)
        }
    }

    @Test func pagesLimitsAndRefusals() async throws {
        try await TestServer.with { server in
            let admin = try await server.tokens.issue(spaces: [], accessTTL: 3600, admin: true).accessToken
            let token = try await server.token("a", "b", "c")
            for space in ["c", "a", "b"] { _ = try await server.pull("space=\(space)&since_seq=0", token: token) }
            let first = try await server.request(.GET, "/admin/spaces?limit=2", token: admin).console(Spaces.self)
            #expect(first.spaces.map(\.space) == ["a", "b"] && first.nextAfter == "b")
            let second = try await server.request(.GET, "/admin/spaces?limit=2&after=b", token: admin).console(Spaces.self)
            #expect(second.spaces.map(\.space) == ["c"] && second.nextAfter == nil)
            #expect(second.spaces.first?.lastWriteAt == nil && second.spaces.first?.headSeq == 0)

            for path in [
                "/admin/spaces?limit=0", "/admin/spaces?limit=501", "/admin/spaces?limit=x", "/admin/spaces?after=B",
                "/admin/conflicts?limit=0", "/admin/conflicts?limit=1001", "/admin/spaces/Not_A_Space",
            ] {
                let answer = try await server.request(.GET, path, token: admin)
                #expect(answer.status == 400 && answer.errorCode == "bad_request", "\(path): \(answer.text)")
            }
            let missing = try await server.request(.GET, "/admin/spaces/nothing-here", token: admin)
            #expect(missing.status == 404 && missing.errorCode == "not_found")
            let stillMissing = try await server.request(.GET, "/admin/spaces?after=c", token: admin).console(Spaces.self)
            #expect(stillMissing.spaces.isEmpty, "asking for a space's figures creates no log")

            server.outage.set(down: true)
            let down = try await server.request(.GET, "/admin/health", token: admin)
            #expect(down.status == 503)
            let downBody = try down.console(Health.self)
            #expect(downBody.status == "unavailable" && !downBody.storage.reachable)
            #expect(try await server.request(.GET, "/admin/spaces", token: admin).status == 503)
            #expect(try await server.request(.GET, "/admin/spaces/a", token: admin).status == 503)
        }
    }

    @Test func aRevokedTokenIsRefusedAtOnce() async throws {
        try await TestServer.with { server in
            let admin = try await server.tokens.issue(spaces: [], accessTTL: 3600, admin: true).accessToken
            let issued = try await server.tokens.issue(spaces: ["notes"], accessTTL: 3600)
            #expect(try await server.push(.make(space: "notes", [.upsert(1, key: "k")]), token: issued.accessToken).status == 200)
            #expect(try await server.request(.DELETE, "/admin/tokens/\(issued.grantID)", token: admin).status == 204)
            let refused = try await server.push(.make(space: "notes", [.upsert(2, key: "k")]), token: issued.accessToken)
            #expect(refused.status == 401)
            let grants = try await server.tokens.grants()
            #expect(grants.first { $0.id == issued.grantID }?.revokedAt != nil)
        }
    }
}

/// The registry of devices and conflicts, alone: bounded, least recently seen first out.
@Suite struct ServerActivityTests {
    @Test func devicesAreBoundedPerSpaceWithLRUEviction() {
        let clock = ManualWallClock()
        let activity = ServerActivity(limits: .init(spaces: 2, devicesPerSpace: 2, conflicts: 3), clock: clock.clock)
        activity.recordPull(space: "s", deviceID: "a", cursor: 1)
        activity.recordPull(space: "s", deviceID: "b", cursor: 2)
        activity.recordPull(space: "s", deviceID: "a", cursor: 3)  // a is now more recent than b
        activity.recordPull(space: "s", deviceID: "c", cursor: 4)  // b goes
        #expect(activity.devices(of: "s").map(\.deviceID) == ["c", "a"])
        #expect(activity.devices(of: "s").last?.cursor == 3)
        activity.recordPull(space: "t", deviceID: "x", cursor: 0)
        activity.recordPull(space: "s", deviceID: "a", cursor: 5)
        activity.recordPull(space: "u", deviceID: "y", cursor: 0)  // t (least recently used) goes
        #expect(Set(activity.deviceCounts().keys) == ["s", "u"])
    }

    @Test func conflictsKeepTheNewestInARing() {
        let activity = ServerActivity(limits: .init(conflicts: 3), clock: ManualWallClock().clock)
        for id in Int64(1)...5 {
            let report = ConflictReport(clientActionID: id, entity: "note", entityKey: "k", baseSeq: 0, currentSeq: id)
            activity.recordPush(
                space: "s",
                deviceID: "d",
                response: PushResponse(accepted: 1, acks: [], rejected: [], conflicts: [report], headSeq: id, logID: "l")
            )
        }
        #expect(activity.conflicts(limit: 10).map(\.report.clientActionID) == [5, 4, 3])
        #expect(activity.conflicts(limit: 2).map(\.report.clientActionID) == [5, 4])
    }
}

/// The console's admin API over every store (PostgreSQL too): spaces and checkpoints listed.
@Suite struct ConsoleStoreContractTests {
    @Test(arguments: EventLogFactory.all)
    func spacesAndCheckpointsOverHTTP(factory: EventLogFactory) async throws {
        try await factory.with { eventLog, tokens in
            let app = routerTestApplication(eventLog: eventLog, tokens: tokens)
            let admin = try await tokens.issue(spaces: [], accessTTL: 3600, admin: true).accessToken
            let device = try await tokens.issue(spaces: ["notes", "todo"], accessTTL: 3600).accessToken
            try await app.test(.router) { client in
                let bearer: HTTPFields = [.authorization: "Bearer \(admin)"]
                let push: HTTPFields = [.authorization: "Bearer \(device)", .contentType: "application/json"]
                for space in ["todo", "notes"] {
                    let body =
                        #"{"space":"\#(space)","device_id":"d1","session_id":"s","mutations":[{"client_action_id":1,"entity":"note","entity_key":"k","op":"upsert","payload":{}}]}"#
                    let pushed = try await client.executeRequest(
                        uri: "/sync/mutations/push",
                        method: .post,
                        headers: push,
                        body: ByteBuffer(string: body)
                    )
                    #expect(pushed.status == .ok, "\(String(buffer: pushed.body))")
                }
                let listed = try await client.executeRequest(uri: "/admin/spaces", method: .get, headers: bearer, body: nil)
                #expect(listed.status == .ok)
                let spaces = try snakeDecoder.decode(Spaces.self, from: Data(listed.body.readableBytesView))
                #expect(spaces.spaces.map(\.space) == ["notes", "todo"])
                #expect(spaces.spaces.allSatisfy { $0.headSeq == 1 && $0.writesPerMinute == 1 && $0.lastWriteAt != nil })
                let health = try await client.executeRequest(uri: "/admin/health", method: .get, headers: bearer, body: nil)
                let kind = try snakeDecoder.decode(Health.self, from: Data(health.body.readableBytesView)).storage.kind
                #expect(kind == factory.name.replacingOccurrences(of: "postgres", with: "postgresql"))
            }
        }
    }
}
