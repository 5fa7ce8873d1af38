import AsyncHTTPClient
import FerryClient
import FerryCore
import FerryHTTP
import FerryTestKit
import FerryTestSupport
import Foundation
import GRDB
import Synchronization
import Testing

/// Every seq the server gave each device's mutations, as acks or as duplicates.
final class AckLedger: Sendable {
    struct Key: Hashable, Sendable, CustomStringConvertible {
        var device: String
        var clientActionID: Int64
        var description: String { "\(device)#\(clientActionID)" }
    }

    private let seqs = Mutex<[Key: Set<Int64>]>([:])

    func record(_ response: PushResponse, device: String) {
        seqs.withLock { seqs in
            for ack in response.acks { seqs[Key(device: device, clientActionID: ack.clientActionID), default: []].insert(ack.seq) }
            for rejection in response.rejected where rejection.reason == .duplicate {
                if let seq = rejection.seq { seqs[Key(device: device, clientActionID: rejection.clientActionID), default: []].insert(seq) }
            }
        }
    }

    /// Each acknowledged mutation and the seqs the server gave it (one, if it kept its word).
    var acknowledged: [Key: Set<Int64>] { seqs.withLock { $0 } }
}

/// A transport that records every answer to a push in an ``AckLedger``.
struct AckRecordingTransport: SyncTransport {
    let base: HTTPTransport
    let ledger: AckLedger

    func push(_ request: PushRequest) async throws -> PushResponse {
        let response = try await base.push(request)
        ledger.record(response, device: request.deviceID)
        return response
    }

    func pull(space: String, since: Int64, limit: Int?, excludeDevice: String?, wait: Duration?) async throws -> PullResponse {
        try await base.pull(space: space, since: since, limit: limit, excludeDevice: excludeDevice, wait: wait)
    }

    func manifest(space: String) async throws -> SnapshotManifest {
        try await base.manifest(space: space)
    }

    func chunk(id: String) async throws -> [UInt8] {
        try await base.chunk(id: id)
    }

    func bulkPush(_ request: BulkPushRequest) async throws -> PushResponse {
        let response = try await base.bulkPush(request)
        ledger.record(response, device: request.deviceID)
        return response
    }
}

/// A device of the fault tests: its own SQLite file, a local store, and an HTTP transport
/// with its own client (one request per connection, so that a proxy picks a fault per
/// request) to `baseURL`.
struct FaultDevice: Sendable {
    static let schema = "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT, n INTEGER)"

    let name: String
    let database: DatabaseQueue
    let store: LocalStore
    let client: HTTPClient
    let http: HTTPTransport
    let engine: SyncEngine

    init(
        _ name: String,
        folder: TemporaryFolder,
        baseURL: String,
        token: String,
        ledger: AckLedger,
        requestTimeout: Duration = .seconds(2),
        onePerConnection: Bool = true,
        pushBatchSize: Int = 20,
        pullLimit: Int? = 40
    ) throws {
        self.name = name
        database = try DatabaseQueue(path: folder.path("\(name).sqlite"))
        try database.write { db in try db.execute(sql: Self.schema) }
        store = try LocalStore(database)
        try store.register(table: "notes")
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        if onePerConnection { configuration.maximumUsesPerConnection = 1 }
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        http = HTTPTransport(
            configuration: HTTPTransportConfiguration(
                baseURL: baseURL,
                accessToken: token,
                requestTimeout: requestTimeout,
                httpClient: client
            )
        )
        engine = SyncEngine(
            store: store,
            transport: AckRecordingTransport(base: http, ledger: ledger),
            space: "notes",
            pushBatchSize: pushBatchSize,
            pullLimit: pullLimit,
            bootstrapThreshold: 1 << 40
        )
    }

    /// Inserts rows `name-i` for each `i` of `range`: one outbox entry each.
    func insert(_ range: Range<Int>) throws {
        try database.write { db in
            for i in range {
                try db.execute(sql: "INSERT INTO notes (id, title, n) VALUES (?, ?, ?)", arguments: ["\(name)-\(i)", "from \(name)", i])
            }
        }
    }

    func rows() throws -> [[String: String]] {
        try Convergence.rows(of: "notes", keyColumn: "id", in: database)
    }

    func pending() async throws -> Int {
        try await store.counts().pending
    }

    func cursor() async throws -> Int64 {
        try await store.cursor(space: "notes").lastSeq
    }

    /// Syncs until one sync ends without error with the outbox empty; answers the failed
    /// attempts. Throws when `deadline` passes first.
    @discardableResult
    func syncUntilClean(before deadline: ContinuousClock.Instant, pause: Duration = .milliseconds(50)) async throws -> Int {
        var failures = 0
        var lastError: (any Error)?
        while ContinuousClock.now < deadline {
            do {
                _ = try await engine.sync()
                if try await pending() == 0 { return failures }
            } catch let error as SyncTransportError where error.kind == .transient {
                failures += 1
                lastError = error
                try await Task.sleep(for: pause)
            }
        }
        throw ProcessError(message: "\(name) did not sync cleanly in time (\(failures) failures, last: \(String(describing: lastError)))")
    }

    func close() async {
        try? await http.shutdown()
        try? await client.shutdown()
    }
}

/// The whole log of space `notes`, read from the server at `baseURL` directly.
func serverLog(_ baseURL: String, token: String) async throws -> [LoggedMutation] {
    try await FerryTestClient.withHTTPClient { client in
        let http = FerryTestClient(baseURL: baseURL, client: client)
        var entries: [LoggedMutation] = []
        var cursor: Int64 = 0
        while true {
            let answer = try await http.pull("space=notes&since_seq=\(cursor)&limit=1000", token: token)
            guard answer.status == 200 else { throw ProcessError(message: "pull answered \(answer.status): \(answer.text)") }
            let page = try answer.decode(PullResponse.self)
            entries += page.mutations
            cursor = page.latestSeq
            if !page.hasMore { return entries }
        }
    }
}

/// Checks what the fault tests promise of the server's log: seqs 1…N without gap or
/// duplicate, each (device, client action) once, `writes` entries in all, and every
/// acknowledged mutation at the one seq it was acknowledged with.
func expectLogIsExact(_ log: [LoggedMutation], writes: Int, ledger: AckLedger, _ context: String) {
    #expect(log.map(\.seq) == (0..<log.count).map { Int64($0) + 1 }, "seqs not 1…N (\(context))")
    let keys = log.map { AckLedger.Key(device: $0.deviceID, clientActionID: $0.mutation.clientActionID) }
    #expect(Set(keys).count == keys.count, "a mutation is in the log twice (\(context))")
    #expect(log.count == writes, "\(log.count) entries in the log for \(writes) writes (\(context))")
    let bySeq = Dictionary(uniqueKeysWithValues: zip(log.map(\.seq), keys))
    let acknowledged = ledger.acknowledged
    #expect(!acknowledged.isEmpty, "no acks recorded (\(context))")
    for (key, seqs) in acknowledged {
        #expect(seqs.count == 1, "\(key) was acknowledged with seqs \(seqs.sorted()) (\(context))")
        for seq in seqs {
            #expect(bySeq[seq] == key, "\(key) was acknowledged at \(seq), which holds \(String(describing: bySeq[seq])) (\(context))")
        }
    }
}

/// The rows a fresh device holds after pulling the whole log from `baseURL` directly: the
/// server's replay.
func replayRows(_ baseURL: String, token: String, folder: TemporaryFolder) async throws -> [[String: String]] {
    let replay = try FaultDevice(
        "replay-\(UUID().uuidString.prefix(8))",
        folder: folder,
        baseURL: baseURL,
        token: token,
        ledger: AckLedger(),
        requestTimeout: .seconds(30),
        pullLimit: 1000
    )
    do {
        try await replay.syncUntilClean(before: .now + .seconds(60))
        let rows = try replay.rows()
        await replay.close()
        return rows
    } catch {
        await replay.close()
        throw error
    }
}

/// Creates a token for space `notes` with `ferry token create` and the storage `arguments`.
func createToken(_ storage: [String]) throws -> String {
    let created = try ferry(["token", "create"] + storage + ["--space", "notes", "--json"])
    guard created.status == 0 else { throw ProcessError(message: "ferry token create failed: \(created.output)") }
    return try JSONDecoder().decode(TokenPair.self, from: Data(created.output.utf8)).accessToken
}

/// A flag one task sets and others read.
final class Flag: Sendable {
    private let value = Mutex(false)

    var isSet: Bool { value.withLock { $0 } }

    func set() { value.withLock { $0 = true } }
}

/// `duration` in whole milliseconds.
func milliseconds(_ duration: Duration) -> Int64 {
    duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
}
