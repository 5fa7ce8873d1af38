import ArgumentParser
import FerryClient
import FerryCore
import FerryHTTP
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// Options that name the app's database, shared by the client commands.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "The app's SQLite database.")
    var db: String

    /// Opens Ferry's store in the database (it must exist).
    func open() throws -> LocalStore {
        do {
            return try LocalStore.open(existingDatabaseAt: db)
        } catch let error as LocalStoreError where error.code == .noDatabase {
            throw ValidationError(error.message)
        }
    }
}

struct Track: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register a table whose writes sync.",
        discussion: """
            Creates triggers that capture every insert, update and delete of the table, by any
            program, into Ferry's outbox. Rows already in the table are queued for their first
            push. A change of the table's columns is noticed by itself (when the database is
            opened, and before each push); see docs/client.md, "Schema changes".
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The table.")
    var table: String

    @Option(name: .long, help: "The key column (default: the table's single-column primary key).")
    var key: String?

    @Option(name: .long, help: "Conflict policy: last-writer-wins (default) or remote-wins.")
    var policy: String = "last-writer-wins"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A column renamed while older app versions still sync, as NEW=OLD: sent under both names (repeat for more).",
            valueName: "new=old"
        )
    )
    var renamed: [String] = []

    func validate() throws {
        for pair in renamed where pair.split(separator: "=").count != 2 {
            throw ValidationError("--renamed takes NEW=OLD, not '\(pair)'")
        }
    }

    func run() throws {
        let conflictPolicy: ConflictPolicy
        switch policy {
        case "last-writer-wins": conflictPolicy = .lastWriterWins
        case "remote-wins": conflictPolicy = .remoteWins
        default: throw ValidationError("policy must be last-writer-wins or remote-wins")
        }
        let store = try database.open()
        var renames: [String: String] = [:]
        for pair in renamed {
            let names = pair.split(separator: "=").map(String.init)
            renames[names[0]] = names[1]
        }
        try store.register(table: table, keyColumn: key, policy: conflictPolicy, renamedColumns: renames)
        let counts = try store.counts()
        print("tracking \(table); \(counts.pending) local mutations wait to be pushed")
    }
}

struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sync the database with a Ferry server: once, or continuously with --watch.",
        discussion: """
            A rotated refresh token is kept in the database, so later runs need only --token.
            With --watch, writes by any program to the database's tracked tables are pushed
            after a debounce: the watcher checks for other processes' commits every
            --write-check-ms milliseconds. SIGINT or SIGTERM stops it gracefully and releases
            the lease.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(name: .long, help: "The server's URL, e.g. http://127.0.0.1:8080.")
    var server: String

    @Option(name: .long, help: "The space to sync with.")
    var space: String

    @Option(name: .long, help: "The access token.")
    var token: String

    @Option(name: .long, help: "A refresh token, used when the access token expires.")
    var refreshToken: String?

    @Flag(name: .long, help: "Keep syncing until stopped.")
    var watch = false

    @Flag(name: .long, help: "With --watch: hold a long-poll open so others' changes arrive at once.")
    var live = false

    @Option(name: .long, help: "With --watch: seconds between syncs when idle (default 30).")
    var interval: Int = 30

    @Option(
        name: .long,
        help: "With --watch: milliseconds between checks for other programs' commits to the database; 0 turns the check off (default 25)."
    )
    var writeCheckMs: Int = 25

    @Option(
        name: .long,
        help: "With --watch: milliseconds from a noticed write to the cycle that pushes it; writes in between join it (default 25)."
    )
    var debounceMs: Int = 25

    @Option(
        name: .long,
        help: "Bootstrap a new or reset copy from the server's snapshot when it is more than this many mutations ahead (default 10000)."
    )
    var bootstrapThreshold: Int64 = 10_000

    func validate() throws {
        guard ProtocolRules.isValidSpace(space) else { throw ValidationError("'\(space)' is not a space name") }
        guard interval > 0 else { throw ValidationError("--interval must be positive") }
        guard writeCheckMs >= 0 else { throw ValidationError("--write-check-ms must not be negative") }
        guard debounceMs >= 0 else { throw ValidationError("--debounce-ms must not be negative") }
        guard bootstrapThreshold >= 0 else { throw ValidationError("--bootstrap-threshold must not be negative") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let store = try database.open()
        let stored = try await store.metadata(.refreshToken)
        let transport = HTTPTransport(
            configuration: HTTPTransportConfiguration(
                baseURL: server,
                accessToken: token,
                refreshToken: refreshToken ?? stored,
                onTokensRefreshed: { pair in
                    // The old refresh token no longer works: keep the new one.
                    try? await store.setMetadata(pair.refreshToken, for: .refreshToken)
                }
            )
        )
        let engine = SyncEngine(store: store, transport: transport, space: space, bootstrapThreshold: bootstrapThreshold)
        do {
            try await watch ? runManager(engine) : runOnce(engine)
        } catch {
            try? await transport.shutdown()
            throw error
        }
        try await transport.shutdown()
    }

    private func runOnce(_ engine: SyncEngine) async throws {
        let printer = SyncProgressPrinter(space: space)
        let report = try await engine.sync(progress: printer.bootstrap, pulled: printer.pulled)
        let counts = try await engine.store.counts()
        print(
            "pushed \(report.pushed), pulled \(report.pulled), bootstrapped \(report.bootstrapRecords), conflicts \(report.conflicts), "
                + "dead letters \(report.deadLetters), rejected \(report.rejected); pending \(counts.pending)"
        )
    }

    private func runManager(_ engine: SyncEngine) async throws {
        let manager = SyncManager(
            engine: engine,
            schedule: SyncSchedule(
                debounce: .milliseconds(debounceMs),
                pollInterval: .seconds(interval),
                live: live,
                externalWriteCheck: writeCheckMs > 0 ? .milliseconds(writeCheckMs) : nil
            ),
            clock: ContinuousClock()
        )
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: manager), .init(service: StatusPrinter(manager: manager))],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: Logger(label: "ferry.sync")
            )
        )
        try await group.run()
    }
}

/// Prints each status change of a manager on one line.
struct StatusPrinter: Service {
    let manager: SyncManager<ContinuousClock>

    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await status in manager.statusUpdates() {
                var line = "\(status.phase)"
                if let done = status.bootstrapRecordsDone, let total = status.bootstrapRecordsTotal {
                    line += " \(done)/\(total) records"
                }
                if let reason = status.reasonCode { line += " (\(reason))" }
                line += " pending \(status.pending) conflicts \(status.conflicts) dead letters \(status.deadLetters)"
                if let error = status.lastError { line += " — \(error)" }
                print(line)
                fflush(nil)
            }
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what waits to sync in a database, and where each space stands.",
        discussion: """
            A table with a row per space: the cursor (last seq applied), the head of the log at \
            the last pull and the lag between them ("unknown" before a pull), the outbox \
            (pending local mutations), dead letters, open conflicts, the last successful sync, \
            and the phase and reason of the last sync (healthy, or backoff with the reason it \
            failed). --json prints one object for scripts.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    func run() throws {
        let store = try database.open()
        let counts = try store.counts()
        let tables = try store.syncedTables()
        let spaces = try store.spaceStatuses()
        let lease = try store.leaseHolder()
        if json {
            var object: [String: JSONValue] = [
                "device_id": .string(store.deviceID),
                "tables": .array(tables.map { .string($0.name) }),
                "pending": .int(Int64(counts.pending)),
                "rejected": .int(Int64(counts.rejected)),
                "dead_letters": .int(Int64(counts.deadLetters)),
                "conflicts": .int(Int64(counts.conflicts)),
                "cursors": .array(
                    try store.cursors().sorted { $0.key < $1.key }.map { space, cursor in
                        .object([
                            "space": .string(space), "last_seq": .int(cursor.lastSeq),
                            "log_id": cursor.logID.map(JSONValue.string) ?? .null,
                        ])
                    }
                ),
                "spaces": .array(spaces.map { Self.json($0, counts: counts) }),
            ]
            if let lease {
                object["lease_owner"] = .string(lease.owner)
                object["lease_expires_at"] = .string(RFC3339.format(millisecondsSince1970: lease.expiresAt))
            }
            print(String(decoding: JSONValue.object(object).serialized(), as: UTF8.self))
            return
        }
        print("device:       \(store.deviceID)")
        print(
            "tables:       \(tables.isEmpty ? "none (ferry track)" : tables.map { "\($0.name)(\($0.keyColumn))" }.joined(separator: ", "))"
        )
        print("pending:      \(counts.pending)")
        print("rejected:     \(counts.rejected)")
        print("dead letters: \(counts.deadLetters)")
        print("conflicts:    \(counts.conflicts) unacknowledged")
        if let lease {
            print("lease:        \(lease.owner) until \(RFC3339.format(millisecondsSince1970: lease.expiresAt))")
        }
        guard !spaces.isEmpty else {
            print("spaces:       none synced yet (ferry sync)")
            return
        }
        print("")
        var table = TextTable(header: [
            "SPACE", "CURSOR", "HEAD", "LAG", "OUTBOX", "DEAD LETTERS", "CONFLICTS", "LAST SUCCESS", "PHASE", "REASON",
        ])
        for space in spaces {
            table.rows.append([
                space.space, "\(space.cursor)", space.headSeq.map { "\($0)" } ?? "unknown", space.lag.map { "\($0)" } ?? "unknown",
                "\(counts.pending)", "\(space.deadLetters)", "\(counts.conflicts)", space.outcome?.lastSuccessAt ?? "never",
                space.outcome?.phase.rawValue ?? "unknown", Self.reason(space.outcome),
            ])
        }
        print(table.render())
    }

    /// The reason column: the failure's code and message, `-` after a success or none.
    static func reason(_ outcome: LocalStore.SyncOutcome?) -> String {
        guard let outcome, let reason = outcome.reason else { return "-" }
        guard let message = outcome.message, !message.isEmpty else { return reason.rawValue }
        return "\(reason.rawValue): \(message.count > 60 ? String(message.prefix(59)) + "…" : message)"
    }

    /// One space's object in `spaces` of the JSON output.
    static func json(_ space: LocalStore.SpaceStatus, counts: LocalStore.Counts) -> JSONValue {
        .object([
            "space": .string(space.space),
            "last_seq": .int(space.cursor),
            "log_id": space.logID.map(JSONValue.string) ?? .null,
            "head_seq": space.headSeq.map(JSONValue.int) ?? .null,
            "lag": space.lag.map(JSONValue.int) ?? .null,
            "pulled_at": space.pulledAt.map(JSONValue.string) ?? .null,
            "outbox": .int(Int64(counts.pending)),
            "dead_letters": .int(Int64(space.deadLetters)),
            "conflicts": .int(Int64(counts.conflicts)),
            "last_success_at": space.outcome?.lastSuccessAt.map(JSONValue.string) ?? .null,
            "phase": space.outcome.map { .string($0.phase.rawValue) } ?? .null,
            "reason": space.outcome?.reason.map { .string($0.rawValue) } ?? .null,
            "message": space.outcome?.message.map(JSONValue.string) ?? .null,
            "last_outcome_at": space.outcome.map { .string($0.at) } ?? .null,
        ])
    }
}

struct Conflicts: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, show and resolve recorded conflicts.",
        subcommands: [List.self, Show.self, Resolve.self],
        defaultSubcommand: List.self
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List conflicts, newest first.")

        @OptionGroup var database: DatabaseOptions

        @Flag(name: .long, help: "Include acknowledged ones.")
        var all = false

        func run() throws {
            let store = try database.open()
            let conflicts = try store.conflicts(unacknowledgedOnly: !all)
            if conflicts.isEmpty { print("no conflicts") }
            for conflict in conflicts {
                let acknowledged = conflict.acknowledgedAt.map { " acknowledged \($0)" } ?? ""
                print(
                    "\(conflict.id)  \(conflict.entity)/\(conflict.entityKey)  remote seq \(conflict.remoteSeq)  "
                        + "\(conflict.resolution)  \(conflict.detectedAt)\(acknowledged)"
                )
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one conflict with both versions, as JSON.")

        @OptionGroup var database: DatabaseOptions

        @Argument(help: "The conflict's id.")
        var id: Int64

        func run() throws {
            let store = try database.open()
            guard let conflict = try store.conflicts().first(where: { $0.id == id }) else {
                throw ValidationError("no conflict \(id)")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(conflict), as: UTF8.self))
        }
    }

    struct Resolve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Acknowledge a conflict; with --take local or remote, write that version again."
        )

        @OptionGroup var database: DatabaseOptions

        @Argument(help: "The conflict's id.")
        var id: Int64

        @Option(name: .long, help: "keep (default), local or remote.")
        var take: String = "keep"

        func run() throws {
            guard let choice = LocalStore.ConflictChoice(rawValue: take) else {
                throw ValidationError("--take must be keep, local or remote")
            }
            let store = try database.open()
            try store.resolveConflict(id: id, choice: choice)
            print("resolved \(id) (\(choice.rawValue))")
        }
    }
}
