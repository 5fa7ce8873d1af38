import FerryLog
import Foundation
import Hummingbird

/// The `FERRY_` settings of the process environment, read through Hummingbird's
/// `Environment`: what `ferry serve` and `ferry token` fall back on when a flag is not given.
///
/// Each reader takes the flag's value first; an unset or empty variable counts as not given,
/// and a malformed one is a ``ConfigurationError``, never silently the default.
public struct FerryEnvironment: Sendable {
    private let environment: Environment

    /// The process's environment.
    public init() { environment = Environment() }

    /// The process's environment with `values` set over it (for tests).
    public init(_ values: [String: String]) { environment = Environment(values: values) }

    /// The value of the variable `name`; `nil` when it is unset or empty.
    public func value(_ name: String) -> String? {
        guard let value = environment.get(name), !value.isEmpty else { return nil }
        return value
    }

    /// `flag`, else the integer in the variable `name`, else `fallback`.
    public func integer(_ flag: Int?, _ name: String, default fallback: Int) throws -> Int {
        if let flag { return flag }
        guard let text = value(name) else { return fallback }
        guard let number = Int(text) else { throw ConfigurationError("\(name) must be an integer, not '\(text)'") }
        return number
    }

    /// `flag` when set, else whether the variable `name` is `1` or `true`.
    public func isSet(_ flag: Bool, _ name: String) throws -> Bool {
        if flag { return true }
        switch value(name)?.lowercased() {
        case nil, "0", "false": return false
        case "1", "true": return true
        case let text?: throw ConfigurationError("\(name) must be 1, true, 0 or false, not '\(text)'")
        }
    }

    /// The HTTP API's limits: each from its flag, else its variable (`FERRY_MAX_BODY_BYTES`,
    /// `FERRY_MAX_MUTATIONS_PER_PUSH`, `FERRY_MAX_PAYLOAD_BYTES`, `FERRY_MAX_PULL_LIMIT`,
    /// `FERRY_MAX_WAIT_SECONDS`, `FERRY_MAX_ACKS_PER_REQUEST`, `FERRY_STREAM_PAGE_SIZE`), else
    /// the default of ``ServerConfiguration``.
    public func serverConfiguration(
        maxBodyBytes: Int? = nil,
        maxMutationsPerPush: Int? = nil,
        maxPayloadBytes: Int? = nil,
        maxPullLimit: Int? = nil,
        maxWaitSeconds: Int? = nil,
        maxAcksPerRequest: Int? = nil,
        streamPageSize: Int? = nil
    ) throws -> ServerConfiguration {
        let defaults = ServerConfiguration()
        return ServerConfiguration(
            maxBodyBytes: try integer(maxBodyBytes, "FERRY_MAX_BODY_BYTES", default: defaults.maxBodyBytes),
            maxMutationsPerPush: try integer(maxMutationsPerPush, "FERRY_MAX_MUTATIONS_PER_PUSH", default: defaults.maxMutationsPerPush),
            maxPayloadBytes: try integer(maxPayloadBytes, "FERRY_MAX_PAYLOAD_BYTES", default: defaults.maxPayloadBytes),
            defaultPullLimit: defaults.defaultPullLimit,
            maxPullLimit: try integer(maxPullLimit, "FERRY_MAX_PULL_LIMIT", default: defaults.maxPullLimit),
            maxWaitSeconds: try integer(maxWaitSeconds, "FERRY_MAX_WAIT_SECONDS", default: defaults.maxWaitSeconds),
            maxAcksPerRequest: try integer(maxAcksPerRequest, "FERRY_MAX_ACKS_PER_REQUEST", default: defaults.maxAcksPerRequest),
            streamPageSize: try integer(streamPageSize, "FERRY_STREAM_PAGE_SIZE", default: defaults.streamPageSize)
        )
    }

    /// The limits of bulk pushes: `--bulk-max-bytes` (`FERRY_BULK_MAX_BYTES`) and
    /// `--bulk-max-lines` (`FERRY_BULK_MAX_LINES`), set on `configuration`.
    public func bulkLimits(_ configuration: inout ServerConfiguration, maxBytes: Int?, maxLines: Int?) throws {
        configuration.bulkMaxBytes = try integer(maxBytes, "FERRY_BULK_MAX_BYTES", default: configuration.bulkMaxBytes)
        configuration.bulkMaxLines = try integer(maxLines, "FERRY_BULK_MAX_LINES", default: configuration.bulkMaxLines)
        guard configuration.bulkMaxBytes > 0, configuration.bulkMaxLines > 0 else {
            throw ConfigurationError("the bulk limits must be positive")
        }
    }

    /// The gzip coding of `/sync` bodies: `--compression` (`FERRY_COMPRESSION`, `on` or `off`)
    /// and `--compression-min-bytes` (`FERRY_COMPRESSION_MIN_BYTES`), set on `configuration`.
    public func compression(_ configuration: inout ServerConfiguration, mode: String?, minimumBytes: Int?) throws {
        switch (mode ?? value("FERRY_COMPRESSION"))?.lowercased() {
        case nil: break
        case "on", "1", "true": configuration.compression = true
        case "off", "0", "false": configuration.compression = false
        case let text?:
            throw ConfigurationError("\(mode == nil ? "FERRY_COMPRESSION" : "--compression") must be on or off, not '\(text)'")
        }
        configuration.compressionMinimumBytes = try integer(
            minimumBytes,
            "FERRY_COMPRESSION_MIN_BYTES",
            default: configuration.compressionMinimumBytes
        )
        guard configuration.compressionMinimumBytes >= 0 else { throw ConfigurationError("the compression threshold must be at least 0") }
    }

    /// The limits that hold against hostile clients, set on `configuration`: each from its
    /// flag, else its variable (`FERRY_IDLE_TIMEOUT`, a duration as `90s` or `2m`;
    /// `FERRY_MAX_HEADER_BYTES`, `FERRY_MAX_QUERY_BYTES`, `FERRY_MAX_LONG_POLLS_PER_TOKEN`,
    /// `FERRY_MAX_LONG_POLLS`), else the default of ``ServerConfiguration``.
    public func abuseLimits(
        _ configuration: inout ServerConfiguration,
        idleTimeout: String?,
        maxHeaderBytes: Int?,
        maxQueryBytes: Int?,
        maxLongPollsPerToken: Int?,
        maxLongPolls: Int?
    ) throws {
        if let text = idleTimeout ?? value("FERRY_IDLE_TIMEOUT") {
            configuration.idleTimeout = try Self.duration(text, idleTimeout == nil ? "FERRY_IDLE_TIMEOUT" : "--idle-timeout")
        }
        configuration.maxHeaderBytes = try integer(maxHeaderBytes, "FERRY_MAX_HEADER_BYTES", default: configuration.maxHeaderBytes)
        configuration.maxQueryBytes = try integer(maxQueryBytes, "FERRY_MAX_QUERY_BYTES", default: configuration.maxQueryBytes)
        configuration.maxLongPollsPerToken = try integer(
            maxLongPollsPerToken,
            "FERRY_MAX_LONG_POLLS_PER_TOKEN",
            default: configuration.maxLongPollsPerToken
        )
        configuration.maxLongPolls = try integer(maxLongPolls, "FERRY_MAX_LONG_POLLS", default: configuration.maxLongPolls)
        guard configuration.idleTimeout > .zero, configuration.maxHeaderBytes > 0, configuration.maxQueryBytes > 0,
            configuration.maxLongPollsPerToken >= 0, configuration.maxLongPolls >= 0
        else {
            throw ConfigurationError("the idle timeout and the header and query limits must be positive, the long-poll limits at least 0")
        }
    }

    /// The snapshot and retention settings: each from its flag, else its variable
    /// (`FERRY_SNAPSHOT_EVERY`, `FERRY_SNAPSHOT_CHUNK_RECORDS`, `FERRY_SNAPSHOT_CHUNK_BYTES`,
    /// `FERRY_SNAPSHOT_KEEP`, `FERRY_RETAIN_MUTATIONS`, `FERRY_RETAIN_AGE`), else the default
    /// of ``SnapshotPolicy``. `every` 0 builds snapshots only on demand; durations are
    /// written `90s`, `30m`, `1h`, `7d` (a bare number is seconds).
    public func snapshotPolicy(
        every: Int? = nil,
        chunkRecords: Int? = nil,
        chunkBytes: Int? = nil,
        keep: String? = nil,
        retainMutations: Int? = nil,
        retainAge: String? = nil
    ) throws -> SnapshotPolicy {
        let defaults = SnapshotPolicy()
        let every = try integer(every, "FERRY_SNAPSHOT_EVERY", default: Int(defaults.every ?? 0))
        let records = try integer(chunkRecords, "FERRY_SNAPSHOT_CHUNK_RECORDS", default: defaults.chunkRecords)
        let bytes = try integer(chunkBytes, "FERRY_SNAPSHOT_CHUNK_BYTES", default: defaults.chunkBytes)
        let retain =
            try retainMutations
            ?? value("FERRY_RETAIN_MUTATIONS").map { text in
                guard let number = Int(text) else { throw ConfigurationError("FERRY_RETAIN_MUTATIONS must be an integer, not '\(text)'") }
                return number
            }
        guard every >= 0 else { throw ConfigurationError("--snapshot-every must be 0 (on demand only) or a positive number of mutations") }
        guard records > 0, bytes > 0 else { throw ConfigurationError("the snapshot chunk limits must be positive") }
        if let retain, retain < 0 { throw ConfigurationError("--retain-mutations must not be negative") }
        return SnapshotPolicy(
            every: every == 0 ? nil : Int64(every),
            chunkRecords: records,
            chunkBytes: bytes,
            keep: try (keep ?? value("FERRY_SNAPSHOT_KEEP")).map { try Self.duration($0, "--snapshot-keep") } ?? defaults.keep,
            retainMutations: retain.map(Int64.init),
            retainAge: try (retainAge ?? value("FERRY_RETAIN_AGE")).map { try Self.duration($0, "--retain-age") }
        )
    }

    /// Reads a duration written `90s`, `30m`, `1h` or `7d` (a bare number is seconds).
    public static func duration(_ text: String, _ name: String) throws -> Duration {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var digits = Substring(text)
        var unit: Int64 = 1
        if let last = text.last, let factor = units[last] {
            unit = factor
            digits = digits.dropLast()
        }
        guard let number = Int64(digits), number >= 0 else {
            throw ConfigurationError("\(name) must be a duration such as 90s, 30m, 1h or 7d, not '\(text)'")
        }
        return .seconds(number * unit)
    }

    /// The data folder: `flag`, else `FERRY_DATA`, else `./ferry-data`.
    public func dataFolder(_ flag: String?) -> String { flag ?? value("FERRY_DATA") ?? "./ferry-data" }

    /// The PostgreSQL URL: `flag`, else `FERRY_POSTGRES_URL`; `nil` when neither is given.
    public func postgresURL(_ flag: String?) -> String? { flag ?? value("FERRY_POSTGRES_URL") }

    /// The storage the flags and variables choose: PostgreSQL when a URL is given
    /// (`FERRY_POSTGRES_URL`), the memory log with its tokens in the data folder when `memory`
    /// (or `FERRY_MEMORY`) is set, else SQLite in the data folder (`FERRY_DATA`), with the
    /// commit durability of `durability` (`FERRY_DURABILITY`, default `full`).
    ///
    /// A data folder holds its SQLite file `ferry.sqlite`. Asking for memory and PostgreSQL
    /// at once is a ``ConfigurationError``.
    public func storage(data: String?, durability: String?, postgres: String?, memory: Bool = false) throws -> FerryStorage.Configuration {
        let memory = try isSet(memory, "FERRY_MEMORY")
        if let url = postgresURL(postgres) {
            guard !memory else {
                throw ConfigurationError(
                    "--memory keeps the log in memory and --postgres (or FERRY_POSTGRES_URL) in PostgreSQL: choose one"
                )
            }
            return .postgres(url: url)
        }
        let name = durability ?? value("FERRY_DURABILITY") ?? "full"
        guard let level = SQLiteConfiguration.Durability(rawValue: name) else {
            throw ConfigurationError("durability must be full or normal, not '\(name)'")
        }
        let path = URL(fileURLWithPath: dataFolder(data)).appendingPathComponent("ferry.sqlite").path
        let sqlite = SQLiteConfiguration(path: path, durability: level)
        return memory ? .memory(tokensAt: sqlite) : .sqlite(sqlite)
    }
}

/// A setting that cannot be used, with a message that says which and why.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, naming the setting.
    public var message: String

    /// Creates an error with `message`.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}
