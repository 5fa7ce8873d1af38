import ArgumentParser
import AsyncHTTPClient
import FerryBench
import FerryClient
import FerryCore
import FerryHTTP
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

struct Delta: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring records from an outside source into a table of a SQLite database (delta-token sync).",
        discussion: """
            One sync pass per run: the first is a full sync, later ones fetch what changed since \
            the tokens Ferry kept in the database. Records go into the table (default \
            delta_records, created by the first sync that finishes) with the columns source, id, \
            etag, data and ref. A run that fails leaves the table and the tokens as they were. \
            Track the table (ferry track delta_records --key ref) to send the records on into a \
            Ferry space.
            """,
        subcommands: [CalDAV.self, CardDAV.self, Aurinko.self]
    )
}

/// The options every `ferry delta` source shares.
struct DeltaOptions: ParsableArguments {
    @Option(name: .long, help: "The SQLite database (created if missing).")
    var db: String

    @Option(name: .long, help: "The table the records go into.")
    var table: String = LocalDeltaSink.defaultTable

    @Flag(name: .long, help: "Print one JSON object per run on standard output; logs go to standard error.")
    var json = false

    @Flag(name: .long, help: "Keep syncing every --interval until stopped (SIGINT or SIGTERM).")
    var watch = false

    @Option(name: .long, help: "With --watch: seconds between runs.")
    var interval: Int = 300

    func validate() throws {
        guard ProtocolRules.isValidEntity(table) else { throw ValidationError("'\(table)' is not a table name") }
        guard interval > 0 else { throw ValidationError("--interval must be positive") }
    }

    /// Runs the sync of the source `make` builds on an HTTP client of its own, which fails
    /// a request at once when the server cannot be reached (a run repeats it later), and is
    /// shut down at the end.
    func run(_ make: (HTTPClient) -> any DeltaSource) async throws {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            try await run(make(client))
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func run(_ source: any DeltaSource) async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        do {
            let store = try LocalStore.open(databaseAt: db)
            let sink = try store.deltaSink(table: table)
            if watch {
                try await runManager(source, sink)
            } else {
                let progress = ProgressReporter.standardError(label: "delta \(source.stream)", unit: "records", quiet: json)
                // Records written so far: the updated drain's, then the deleted drain's.
                let written = Mutex((updated: 0, deleted: 0))
                let sync = DeltaSync(
                    source: source,
                    sink: sink,
                    clock: ContinuousClock(),
                    onEvent: { event in
                        let done: Int? = written.withLock { written in
                            switch event {
                            case .updatedBatch(_, _, let total, _): written.updated = total
                            case .deletedBatch(_, _, let total, _): written.deleted = total
                            default: return nil
                            }
                            return written.updated + written.deleted
                        }
                        if let done { progress.update(done: Int64(done)) }
                    }
                )
                let result = try await sync.run()
                if progress.hasShown { progress.clear() }
                try report(result)
            }
        } catch let error as DeltaSyncError {
            deltaError("ferry delta: \(error.description)")
            throw ExitCode.failure
        } catch let error as LocalStoreError {
            deltaError("ferry delta: \(error.message)")
            throw ExitCode.failure
        }
    }

    private func runManager(_ source: any DeltaSource, _ sink: LocalDeltaSink) async throws {
        let manager = DeltaSyncManager(
            source: source,
            sink: sink,
            schedule: SyncSchedule(pollInterval: .seconds(interval)),
            clock: ContinuousClock(),
            metrics: nil
        )
        let printer = DeltaOutcomePrinter(manager: manager, options: self)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: manager), .init(service: printer)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: Logger(label: "ferry.delta")
            )
        )
        try await group.run()
    }

    /// Prints a finished run: one JSON object, or one line.
    func report(_ result: DeltaSyncResult) throws {
        let (seconds, attoseconds) = result.duration.components
        let milliseconds: Int64 = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if json {
            var members: [String: JSONValue] = [:]
            members["source"] = .string(result.stream)
            members["table"] = .string(table)
            members["updated"] = .int(Int64(result.updated))
            members["deleted"] = .int(Int64(result.deleted))
            members["swept"] = .int(Int64(result.swept))
            members["duration_ms"] = .int(milliseconds)
            members["full_resync"] = .bool(result.fullResync)
            members["tokens_rejected"] = .bool(result.tokensRejected)
            members["pages"] = .int(Int64(result.pages))
            let object = JSONValue.object(members)
            print(String(decoding: object.serialized(), as: UTF8.self))
        } else {
            var line = "\(result.stream): \(result.updated) updated, \(result.deleted) deleted"
            if result.fullResync { line += ", full sync" + (result.tokensRejected ? " (the source forgot the tokens)" : "") }
            if result.swept > 0 { line += ", \(result.swept) removed as gone from the source" }
            print(line + " in \(milliseconds) ms")
        }
        fflush(nil)
    }
}

/// Prints each run of a `--watch` manager: a report, or a failure line on standard error.
struct DeltaOutcomePrinter: Service {
    let manager: DeltaSyncManager<ContinuousClock>
    let options: DeltaOptions

    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await outcome in manager.outcomes() {
                switch outcome {
                case .success(let result): try? options.report(result)
                case .failure(let error): deltaError("ferry delta: \(error.description); retrying later")
                }
            }
        }
    }
}

private func deltaError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Basic-auth options of the DAV sources.
struct DAVOptions: ParsableArguments {
    @Option(name: .long, help: "The collection's URL: a calendar or an address book.")
    var url: String

    @Option(name: .long, help: "The user name (Basic auth).")
    var user: String?

    @Option(name: .long, help: "The password (Basic auth).")
    var password: String?

    func validate() throws {
        guard let parsed = URL(string: url), parsed.scheme == "http" || parsed.scheme == "https", parsed.host != nil else {
            throw ValidationError("--url must be an http or https URL")
        }
        guard (user == nil) == (password == nil) else { throw ValidationError("--user and --password go together") }
    }
}

extension Delta {
    struct CalDAV: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "caldav",
            abstract: "Sync a CalDAV calendar (RFC 6578 sync-collection) into the table."
        )

        @OptionGroup var dav: DAVOptions
        @OptionGroup var options: DeltaOptions

        func run() async throws {
            try await options.run { CalDAVSource(collectionURL: dav.url, username: dav.user, password: dav.password, httpClient: $0) }
        }
    }

    struct CardDAV: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "carddav",
            abstract: "Sync a CardDAV address book (RFC 6578 sync-collection) into the table."
        )

        @OptionGroup var dav: DAVOptions
        @OptionGroup var options: DeltaOptions

        func run() async throws {
            try await options.run { CardDAVSource(collectionURL: dav.url, username: dav.user, password: dav.password, httpClient: $0) }
        }
    }

    struct Aurinko: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "aurinko",
            abstract: "Sync an Aurinko account's email, contacts or a calendar into the table."
        )

        @Option(name: .long, help: "The API root, including /v1 (e.g. https://api.aurinko.io/v1).")
        var baseURL: String

        @Option(name: .long, help: "The account's access token.")
        var token: String

        @Option(name: .long, help: "email, contacts, or calendar:ID (calendar:primary for the primary calendar).")
        var stream: String

        @Option(name: .long, help: "email: sync the messages of the last N days.")
        var daysWithin: Int?

        @Option(name: .long, help: "calendar: the start of the time range (ISO 8601).")
        var timeMin: String?

        @Option(name: .long, help: "calendar: the end of the time range (ISO 8601).")
        var timeMax: String?

        @OptionGroup var options: DeltaOptions

        func validate() throws {
            _ = try aurinkoStream()
        }

        func aurinkoStream() throws -> AurinkoStream {
            func date(_ text: String?, _ name: String) throws -> Date? {
                guard let text else { return nil }
                guard let date = ISO8601DateFormatter().date(from: text) else {
                    throw ValidationError("--\(name) must be an ISO 8601 date-time such as 2026-01-01T00:00:00Z")
                }
                return date
            }
            if stream == "email" {
                guard timeMin == nil, timeMax == nil else { throw ValidationError("--time-min and --time-max are for calendars") }
                if let daysWithin, daysWithin <= 0 { throw ValidationError("--days-within must be positive") }
                return .email(daysWithin: daysWithin)
            }
            guard daysWithin == nil else { throw ValidationError("--days-within is for email") }
            if stream == "contacts" {
                guard timeMin == nil, timeMax == nil else { throw ValidationError("--time-min and --time-max are for calendars") }
                return .contacts
            }
            if stream.hasPrefix("calendar:"), stream.count > "calendar:".count {
                return .calendar(
                    id: String(stream.dropFirst("calendar:".count)),
                    timeMin: try date(timeMin, "time-min"),
                    timeMax: try date(timeMax, "time-max")
                )
            }
            throw ValidationError("--stream must be email, contacts or calendar:ID")
        }

        func run() async throws {
            let stream = try aurinkoStream()
            try await options.run { AurinkoSource(baseURL: baseURL, accountToken: token, stream: stream, httpClient: $0) }
        }
    }
}
