import FerryCore
import FerryLog
import Hummingbird

/// The read-only routes of `/admin` behind the operator console (`/console`): spaces, a
/// space's devices and checkpoints, recent conflicts, the server's health. Each request
/// reads a bounded amount: a page of spaces, one space's checkpoints up to a limit.
struct ConsoleAdminRoutes {
    /// The most spaces one `GET /admin/spaces` lists, and its default.
    static let maxSpaces = 500
    static let defaultSpaces = 100
    /// The most conflicts one `GET /admin/conflicts` lists, and its default.
    static let maxConflicts = 1000
    static let defaultConflicts = 100
    /// The most checkpoints `GET /admin/spaces/{space}` lists.
    static let maxCheckpoints = 500
    /// The window of `writes_per_minute`.
    static let recentWindowMilliseconds: Int64 = 60_000

    let eventLog: any EventLog
    let activity: ServerActivity
    let clock: WallClock
    /// When the routes were made: the server's start, for its uptime.
    let startedAt: Int64

    func addRoutes(to group: RouterGroup<FerryRequestContext>) {
        group.get("spaces", use: spaces)
        group.get("spaces/:space", use: space)
        group.get("conflicts", use: conflicts)
        group.get("health", use: health)
    }

    /// `GET /admin/spaces?after=&limit=`: a page of spaces in name order.
    @Sendable func spaces(request: Request, context: FerryRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        let limit = try Self.limit(parameters["limit"].map(String.init), default: Self.defaultSpaces, max: Self.maxSpaces)
        let after = parameters["after"].map(String.init)
        if let after { try ProtocolRules.requireValidSpace(after) }
        let now = clock.nowMilliseconds()
        let summaries = try await eventLog.listSpaces(after: after, limit: limit, recentSince: now - Self.recentWindowMilliseconds)
        let counts = activity.deviceCounts()
        let listing = SpaceListing(
            spaces: summaries.map { ConsoleSpace($0, devices: counts[$0.space] ?? 0) },
            nextAfter: summaries.count == limit ? summaries.last?.space : nil
        )
        return try JSONResponse.make(listing)
    }

    /// `GET /admin/spaces/{space}`: the space's figures, the devices this server saw in it,
    /// and its stream checkpoints; `404` for a space with no log.
    @Sendable func space(request: Request, context: FerryRequestContext) async throws -> Response {
        let name = context.parameters.get("space") ?? ""
        try ProtocolRules.requireValidSpace(name)
        let position = try await eventLog.streamPosition(space: name, deviceID: "")
        guard !position.logID.isEmpty else { throw FerryError(.notFound, "space '\(name)' has no log") }
        var lastWrite: Int64?
        if position.headSeq > position.floorSeq {
            let page = try await eventLog.read(space: name, since: position.headSeq - 1, limit: 1, excludingDevice: nil)
            lastWrite = page.mutations.last?.occurredAtMilliseconds
        }
        let head = position.headSeq
        let devices = activity.devices(of: name).map { ConsoleDevice($0, head: head) }
        let stored = try await eventLog.listCheckpoints(space: name, limit: Self.maxCheckpoints + 1)
        let detail = SpaceDetail(
            space: name,
            logID: position.logID,
            headSeq: head,
            floorSeq: position.floorSeq,
            mutations: head - position.floorSeq,
            lastWriteAt: lastWrite.map { RFC3339.format(millisecondsSince1970: $0) },
            devices: devices,
            checkpoints: stored.prefix(Self.maxCheckpoints).map { ConsoleCheckpoint($0, head: head) },
            checkpointsTruncated: stored.count > Self.maxCheckpoints
        )
        return try JSONResponse.make(detail)
    }

    /// `GET /admin/conflicts?limit=`: the newest conflicts this server reported.
    @Sendable func conflicts(request: Request, context: FerryRequestContext) async throws -> Response {
        let limit = try Self.limit(
            request.uri.queryParameters["limit"].map(String.init),
            default: Self.defaultConflicts,
            max: Self.maxConflicts
        )
        return try JSONResponse.make(ConflictListing(conflicts: activity.conflicts(limit: limit).map(ConsoleConflict.init)))
    }

    /// `GET /admin/health`: the storage's kind and reachability, the server's uptime and what
    /// its device registry holds; `503` (with the same body) when the storage does not answer.
    @Sendable func health(request: Request, context: FerryRequestContext) async throws -> Response {
        let clock = ContinuousClock()
        let start = clock.now
        var failure: ErrorResponse.Detail?
        do {
            try await eventLog.checkHealth()
        } catch {
            failure = ErrorResponse(FerryError(.unavailable, "the storage does not answer")).error
        }
        let elapsed = start.duration(to: clock.now)
        let checkMilliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        let now = self.clock.nowMilliseconds()
        let counts = activity.deviceCounts()
        let body = ConsoleHealth(
            status: failure == nil ? "ok" : "unavailable",
            error: failure,
            storage: ConsoleHealth.Storage(eventLog, reachable: failure == nil, checkMilliseconds: checkMilliseconds),
            startedAt: RFC3339.format(millisecondsSince1970: startedAt),
            uptimeSeconds: max(0, (now - startedAt) / 1000),
            registry: ConsoleHealth.Registry(
                spaces: counts.count,
                devices: counts.values.reduce(0, +),
                conflicts: activity.conflictCount,
                maxSpaces: activity.limits.spaces,
                maxDevicesPerSpace: activity.limits.devicesPerSpace,
                maxConflicts: activity.limits.conflicts
            )
        )
        return try JSONResponse.make(body, status: failure == nil ? .ok : .serviceUnavailable)
    }

    /// A `limit` query parameter: an integer from 1 to `max`, `default` when absent; `400` otherwise.
    static func limit(_ text: String?, default value: Int, max: Int) throws -> Int {
        guard let text else { return value }
        guard let limit = Int(text), (1...max).contains(limit) else {
            throw FerryError(.badRequest, "limit must be an integer from 1 to \(max)")
        }
        return limit
    }
}

/// The body of `GET /admin/spaces`.
struct SpaceListing: Codable, Sendable {
    var spaces: [ConsoleSpace]
    /// The `after` of the next page, when this one is full.
    var nextAfter: String?

    enum CodingKeys: String, CodingKey {
        case spaces
        case nextAfter = "next_after"
    }
}

/// One space in `GET /admin/spaces`.
struct ConsoleSpace: Codable, Sendable {
    var space: String
    var logID: String
    var headSeq: Int64
    var floorSeq: Int64
    var mutations: Int64
    var lastWriteAt: String?
    var writesPerMinute: Int64
    var writesPerMinuteCapped: Bool
    var devices: Int

    init(_ summary: SpaceSummary, devices: Int) {
        space = summary.space
        logID = summary.logID
        headSeq = summary.headSeq
        floorSeq = summary.floorSeq
        mutations = summary.mutations
        lastWriteAt = summary.lastWriteMilliseconds.map { RFC3339.format(millisecondsSince1970: $0) }
        writesPerMinute = summary.recentWrites
        writesPerMinuteCapped = summary.recentWrites >= SpaceSummary.recentWritesLimit
        self.devices = devices
    }

    enum CodingKeys: String, CodingKey {
        case space
        case logID = "log_id"
        case headSeq = "head_seq"
        case floorSeq = "floor_seq"
        case mutations
        case lastWriteAt = "last_write_at"
        case writesPerMinute = "writes_per_minute"
        case writesPerMinuteCapped = "writes_per_minute_capped"
        case devices
    }
}

/// The body of `GET /admin/spaces/{space}`.
struct SpaceDetail: Codable, Sendable {
    var space: String
    var logID: String
    var headSeq: Int64
    var floorSeq: Int64
    var mutations: Int64
    var lastWriteAt: String?
    var devices: [ConsoleDevice]
    var checkpoints: [ConsoleCheckpoint]
    var checkpointsTruncated: Bool

    enum CodingKeys: String, CodingKey {
        case space
        case logID = "log_id"
        case headSeq = "head_seq"
        case floorSeq = "floor_seq"
        case mutations
        case lastWriteAt = "last_write_at"
        case devices
        case checkpoints
        case checkpointsTruncated = "checkpoints_truncated"
    }
}

/// One device of a space, as this server process saw it.
struct ConsoleDevice: Codable, Sendable {
    var deviceID: String
    var lastSeenAt: String
    var lastPushAt: String?
    var lastPullAt: String?
    var lastPushedSeq: Int64?
    var cursor: Int64?
    /// How far its cursor is behind the head (0 when at or above it).
    var lag: Int64?

    init(_ device: ServerActivity.Device, head: Int64) {
        deviceID = device.deviceID
        lastSeenAt = RFC3339.format(millisecondsSince1970: device.lastSeenMilliseconds)
        lastPushAt = device.lastPushMilliseconds.map { RFC3339.format(millisecondsSince1970: $0) }
        lastPullAt = device.lastPullMilliseconds.map { RFC3339.format(millisecondsSince1970: $0) }
        lastPushedSeq = device.lastPushedSeq
        cursor = device.cursor
        lag = device.cursor.map { max(0, head - $0) }
    }

    enum CodingKeys: String, CodingKey {
        case deviceID = "device_id"
        case lastSeenAt = "last_seen_at"
        case lastPushAt = "last_push_at"
        case lastPullAt = "last_pull_at"
        case lastPushedSeq = "last_pushed_seq"
        case cursor
        case lag
    }
}

/// One stream checkpoint of a space.
struct ConsoleCheckpoint: Codable, Sendable {
    var deviceID: String
    var type: String
    var seq: Int64
    var lag: Int64
    var currentLog: Bool

    init(_ checkpoint: StoredCheckpoint, head: Int64) {
        deviceID = checkpoint.deviceID
        type = checkpoint.type
        seq = checkpoint.seq
        lag = max(0, head - checkpoint.seq)
        currentLog = checkpoint.ofCurrentLog
    }

    enum CodingKeys: String, CodingKey {
        case deviceID = "device_id"
        case type
        case seq
        case lag
        case currentLog = "current_log"
    }
}

/// The body of `GET /admin/conflicts`.
struct ConflictListing: Codable, Sendable {
    var conflicts: [ConsoleConflict]
}

/// One conflict a push answer reported.
struct ConsoleConflict: Codable, Sendable {
    var space: String
    var deviceID: String
    var at: String
    var clientActionID: Int64
    var entity: String
    var entityKey: String
    var baseSeq: Int64
    var currentSeq: Int64

    init(_ conflict: ServerActivity.Conflict) {
        space = conflict.space
        deviceID = conflict.deviceID
        at = RFC3339.format(millisecondsSince1970: conflict.milliseconds)
        clientActionID = conflict.report.clientActionID
        entity = conflict.report.entity
        entityKey = conflict.report.entityKey
        baseSeq = conflict.report.baseSeq
        currentSeq = conflict.report.currentSeq
    }

    enum CodingKeys: String, CodingKey {
        case space
        case deviceID = "device_id"
        case at
        case clientActionID = "client_action_id"
        case entity
        case entityKey = "entity_key"
        case baseSeq = "base_seq"
        case currentSeq = "current_seq"
    }
}

/// The body of `GET /admin/health`.
struct ConsoleHealth: Codable, Sendable {
    /// The storage behind the server.
    struct Storage: Codable, Sendable {
        /// `memory`, `sqlite`, `postgresql`, or `other` (a store an embedding app made).
        var kind: String
        var reachable: Bool
        var checkMilliseconds: Int64
        /// PostgreSQL: the most connections of this server's pool.
        var maxConnections: Int?
        /// PostgreSQL: how long one operation may take before a request answers `503`.
        var operationTimeoutMilliseconds: Int64?

        init(_ eventLog: any EventLog, reachable: Bool, checkMilliseconds: Int64) {
            self.reachable = reachable
            self.checkMilliseconds = checkMilliseconds
            switch eventLog {
            case is MemoryEventLog:
                kind = "memory"
            case is SQLiteEventLog:
                kind = "sqlite"
            case let postgres as PostgresEventLog:
                kind = "postgresql"
                let configuration = postgres.database.configuration
                maxConnections = configuration.maximumConnections
                let timeout = configuration.operationTimeout.components
                operationTimeoutMilliseconds = timeout.seconds * 1000 + timeout.attoseconds / 1_000_000_000_000_000
            default:
                kind = "other"
            }
        }

        enum CodingKeys: String, CodingKey {
            case kind
            case reachable
            case checkMilliseconds = "check_ms"
            case maxConnections = "max_connections"
            case operationTimeoutMilliseconds = "operation_timeout_ms"
        }
    }

    /// What the in-memory device registry holds, and its bounds.
    struct Registry: Codable, Sendable {
        var spaces: Int
        var devices: Int
        var conflicts: Int
        var maxSpaces: Int
        var maxDevicesPerSpace: Int
        var maxConflicts: Int

        enum CodingKeys: String, CodingKey {
            case spaces
            case devices
            case conflicts
            case maxSpaces = "max_spaces"
            case maxDevicesPerSpace = "max_devices_per_space"
            case maxConflicts = "max_conflicts"
        }
    }

    var status: String
    var error: ErrorResponse.Detail?
    var storage: Storage
    var startedAt: String
    var uptimeSeconds: Int64
    var registry: Registry

    enum CodingKeys: String, CodingKey {
        case status
        case error
        case storage
        case startedAt = "started_at"
        case uptimeSeconds = "uptime_seconds"
        case registry
    }
}
