import ArgumentParser
import FerryClient
import FerryCore
import FerryHTTP
import FerryLog
import FerryServer
import Foundation
import GRDB
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// `ferry demo`: a server and two devices in one process, narrated. Nothing to set up.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "See Ferry work: a server and two devices, offline edits, a field merge, a conflict and its resolution.",
        discussion: """
            Starts a server on the memory store inside this process (127.0.0.1, a free port) and two \
            devices, 'phone' and 'laptop', each with its own SQLite file in a temporary folder, then \
            tells what happens as it happens. Takes a second or two; nothing is left behind unless \
            --keep names a folder.
            """
    )

    @Flag(help: "One JSON object per step on standard output, for scripts.")
    var json = false

    @Option(help: "Keep the two devices' databases in this folder (created if needed), to look at with sqlite3.")
    var keep: String?

    func run() async throws {
        let folder: URL
        if let keep {
            folder = URL(fileURLWithPath: keep)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } else {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-demo-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        defer { if keep == nil { try? FileManager.default.removeItem(at: folder) } }
        let narrator = DemoNarrator(json: json)
        try await DemoServer.run { url, token in
            try await DemoStory(narrator: narrator, folder: folder, server: url, token: token).tell()
        }
    }
}

/// A server on the memory store, in this process, for as long as `body` runs.
enum DemoServer {
    static let space = "demo"

    static func run(_ body: (_ url: String, _ token: String) async throws -> Void) async throws {
        var logger = Logger(label: "ferry-demo")
        logger.logLevel = .error
        let tokens = MemoryTokenStore()
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = FerryApplication.makeApplication(
            eventLog: MemoryEventLog(),
            tokens: tokens,
            metrics: ServerMetrics(),
            configuration: ServerConfiguration(),
            serverConfiguration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            logger: logger
        ) { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
            portContinuation.finish()
        }
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [.sigint, .sigterm], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next(), port > 0 else { throw ValidationError("the demo server did not start") }
            let issued = try await tokens.issue(spaces: [space], accessTTL: 3600, admin: false)
            let result: Result<Void, any Error>
            do {
                result = .success(try await body("http://127.0.0.1:\(port)", issued.accessToken))
            } catch {
                result = .failure(error)
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            try result.get()
        }
    }
}

/// One device of the demo: its own SQLite file with a `notes` table that syncs.
struct DemoDevice {
    let name: String
    let database: DatabaseQueue
    let store: LocalStore
    let transport: HTTPTransport
    let engine: SyncEngine

    init(name: String, folder: URL, server: String, token: String) throws {
        self.name = name
        let path = folder.appendingPathComponent("\(name).sqlite").path
        try? FileManager.default.removeItem(atPath: path)
        database = try DatabaseQueue(path: path)
        try database.write { db in
            try db.execute(sql: "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL DEFAULT '')")
        }
        store = try LocalStore(database)
        try store.register(table: "notes")
        transport = HTTPTransport(configuration: HTTPTransportConfiguration(baseURL: server, accessToken: token))
        engine = SyncEngine(store: store, transport: transport, space: DemoServer.space)
    }

    func write(_ sql: String, _ arguments: StatementArguments = []) throws {
        try database.write { db in try db.execute(sql: sql, arguments: arguments) }
    }

    /// The notes, by key: `[id: (title, body)]`.
    func notes() throws -> [DemoNote] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, title, body FROM notes ORDER BY id").map {
                DemoNote(id: $0[0], title: $0[1], body: $0[2])
            }
        }
    }
}

/// A row of the demo's `notes` table.
struct DemoNote: Codable, Hashable {
    var id: String
    var title: String
    var body: String
}

/// One step of the story, as `--json` prints it: what happened, and the facts to check.
struct DemoStep: Encodable {
    var step: String
    var device: String?
    var pushed: Int?
    var pulled: Int?
    var conflicts: Int?
    var phone: [DemoNote]?
    var laptop: [DemoNote]?
    var conflict: DemoConflict?
    var converged: Bool?
    var url: String?
    var seconds: Double?
}

/// A recorded conflict, as the demo shows it.
struct DemoConflict: Encodable {
    var id: Int64
    var note: String
    var field: String
    var local: String
    var remote: String
    var resolution: String
}

/// Prints the story for people, or its steps as JSON lines.
struct DemoNarrator {
    let json: Bool

    func say(_ text: String, _ step: DemoStep) throws {
        if json {
            try printJSON(step)
        } else {
            print(text)
        }
        fflush(nil)
    }

    func table(_ phone: [DemoNote], _ laptop: [DemoNote]) -> String {
        func cell(_ note: DemoNote?) -> String {
            guard let note else { return "(none)" }
            return "\(note.title) | \(note.body)"
        }
        let keys = Set(phone.map(\.id)).union(laptop.map(\.id)).sorted()
        let rows = keys.map { key in (key, cell(phone.first { $0.id == key }), cell(laptop.first { $0.id == key })) }
        let width = max(24, rows.map(\.1.count).max() ?? 0)
        var lines = ["     note   " + "phone".padding(toLength: width, withPad: " ", startingAt: 0) + "   laptop"]
        for (key, left, right) in rows {
            let mark = left == right ? " " : "≠"
            lines.append(
                "   \(mark) \(key.padding(toLength: 6, withPad: " ", startingAt: 0)) "
                    + left.padding(toLength: width, withPad: " ", startingAt: 0) + "   " + right
            )
        }
        return lines.joined(separator: "\n")
    }
}

/// The story `ferry demo` tells.
struct DemoStory {
    let narrator: DemoNarrator
    let folder: URL
    let server: String
    let token: String

    func tell() async throws {
        let started = ContinuousClock.now
        try narrator.say(
            """
            Ferry demo: one server and two devices, in this process.

            ▸ A server is listening on \(server) (memory store), with a token for space '\(DemoServer.space)'.
            """,
            DemoStep(step: "server_started", url: server)
        )
        let phone = try DemoDevice(name: "phone", folder: folder, server: server, token: token)
        let laptop = try DemoDevice(name: "laptop", folder: folder, server: server, token: token)
        let result: Result<Void, any Error>
        do {
            result = .success(try await tell(phone, laptop, started: started))
        } catch {
            result = .failure(error)
        }
        try? await phone.transport.shutdown()
        try? await laptop.transport.shutdown()
        try result.get()
    }

    private func tell(_ phone: DemoDevice, _ laptop: DemoDevice, started: ContinuousClock.Instant) async throws {
        try narrator.say(
            """
            ▸ Two devices, 'phone' and 'laptop', each with its own SQLite file in \(folder.path),
              and a table 'notes (id, title, body)' that Ferry tracks with triggers.
            """,
            DemoStep(step: "devices_ready")
        )

        try phone.write("INSERT INTO notes (id, title, body) VALUES ('n1', 'Groceries', 'milk'), ('n2', 'Trip', 'pack bags')")
        var report = try await phone.engine.sync()
        try narrator.say(
            "\n▸ The phone writes two notes with plain SQL and syncs: \(report.pushed) changes pushed.",
            DemoStep(step: "phone_wrote", device: "phone", pushed: report.pushed)
        )
        report = try await laptop.engine.sync()
        try narrator.say(
            "▸ The laptop syncs: \(report.pulled) changes pulled.\n" + narrator.table(try phone.notes(), try laptop.notes()),
            DemoStep(step: "laptop_pulled", device: "laptop", pulled: report.pulled, phone: try phone.notes(), laptop: try laptop.notes())
        )

        try phone.write("UPDATE notes SET title = 'Shopping' WHERE id = 'n1'")
        try laptop.write("UPDATE notes SET body = 'milk, eggs' WHERE id = 'n1'")
        try phone.write("UPDATE notes SET title = 'Trip to Lisbon' WHERE id = 'n2'")
        try laptop.write("UPDATE notes SET title = 'Trip to Porto' WHERE id = 'n2'")
        try narrator.say(
            """

            ▸ Both go offline and edit:
                phone:  n1 title → 'Shopping'         n2 title → 'Trip to Lisbon'
                laptop: n1 body  → 'milk, eggs'       n2 title → 'Trip to Porto'
              (different fields of n1, the same field of n2). Each write waits in its device's outbox.
            """ + "\n" + narrator.table(try phone.notes(), try laptop.notes()),
            DemoStep(step: "offline_edits", phone: try phone.notes(), laptop: try laptop.notes())
        )

        let phoneReport = try await phone.engine.sync()
        let laptopReport = try await laptop.engine.sync()
        _ = try await laptop.engine.sync()
        _ = try await phone.engine.sync()
        let afterMerge = (try phone.notes(), try laptop.notes())
        try narrator.say(
            """

            ▸ Both come back online. The phone pushes \(phoneReport.pushed) changes first; the laptop pushes \
            \(laptopReport.pushed), pulls the phone's, and they sync once more.
              n1: the edits touched different fields, so both are kept (field merge).
              n2: both changed the title; the server ordered the laptop's last, so it wins (last writer wins).
            """ + "\n" + narrator.table(afterMerge.0, afterMerge.1),
            DemoStep(
                step: "merged",
                pushed: phoneReport.pushed + laptopReport.pushed,
                conflicts: laptopReport.conflicts,
                phone: afterMerge.0,
                laptop: afterMerge.1,
                converged: afterMerge.0 == afterMerge.1
            )
        )

        let recorded = try laptop.store.conflicts(unacknowledgedOnly: true)
        guard let conflict = try fieldConflict(in: recorded, note: "n2", field: "title") else {
            throw ValidationError(
                "the demo expected the laptop to record a conflict on n2's title; it recorded \(recorded.count) conflicts"
            )
        }
        try narrator.say(
            """

            ▸ The conflict is recorded on the laptop, with both versions (`ferry conflicts list --db laptop.sqlite`):
                #\(conflict.id) note \(conflict.note), field '\(conflict.field)': local '\(conflict.local)', \
            remote '\(conflict.remote)', settled as \(conflict.resolution)
              (\(recorded.count) recorded in all: the server also reports every record both devices wrote.)
            """,
            DemoStep(step: "conflict_recorded", device: "laptop", conflicts: recorded.count, conflict: conflict)
        )

        try laptop.store.resolveConflict(id: conflict.id, choice: .remote)
        for other in recorded where other.id != conflict.id { try laptop.store.resolveConflict(id: other.id, choice: .keep) }
        _ = try await laptop.engine.sync()
        _ = try await phone.engine.sync()
        let resolved = (try phone.notes(), try laptop.notes())
        let open = try laptop.store.conflicts(unacknowledgedOnly: true).count
        try narrator.say(
            """

            ▸ Someone on the laptop reviews it and takes the phone's title \
            (`ferry conflicts resolve \(conflict.id) --take remote`): it is written again as a new change,
              synced, and both devices hold the same notes again. Open conflicts: \(open).
            """ + "\n" + narrator.table(resolved.0, resolved.1),
            DemoStep(step: "resolved", conflicts: open, phone: resolved.0, laptop: resolved.1, converged: resolved.0 == resolved.1)
        )

        let elapsed = started.duration(to: .now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        try narrator.say(
            """

            Done in \(String(format: "%.1f", seconds)) s. The same with real processes:

              ferry serve --data ferry-data &                       # a server on 127.0.0.1:8080
              ferry token create --data ferry-data --space notes    # its access token: T below
              sqlite3 phone.sqlite  "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT, body TEXT)"
              sqlite3 laptop.sqlite "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT, body TEXT)"
              ferry track --db phone.sqlite notes
              ferry track --db laptop.sqlite notes
              sqlite3 phone.sqlite "INSERT INTO notes VALUES ('n1', 'Groceries', 'milk')"
              ferry sync --db phone.sqlite  --server http://127.0.0.1:8080 --space notes --token "$T"
              ferry sync --db laptop.sqlite --server http://127.0.0.1:8080 --space notes --token "$T"
              ferry status --db laptop.sqlite

            README.md's five-minute tour goes on from there: the console, an app, PostgreSQL.
            """,
            DemoStep(step: "done", seconds: seconds)
        )
    }

    /// The conflict recorded on `note` whose two versions differ in `field`, for showing.
    private func fieldConflict(in conflicts: [ConflictRecord], note: String, field: String) throws -> DemoConflict? {
        for record in conflicts where record.entityKey == note && record.resolution != .reported {
            guard case .string(let local)? = record.local?.objectValue?[field],
                case .string(let remote)? = record.remote?.objectValue?[field], local != remote
            else { continue }
            return DemoConflict(
                id: record.id,
                note: note,
                field: field,
                local: local,
                remote: remote,
                resolution: record.resolution.rawValue
            )
        }
        return nil
    }
}
