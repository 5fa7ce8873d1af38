/// A snapshot of a sync manager's state, for an app's UI or a status command.
public struct SyncStatus: Sendable, Hashable, Codable {
    /// What the manager is doing.
    public var phase: SyncPhase
    /// Why it is in this phase (see ``SyncReasonCode``); `nil` when healthy.
    public var reasonCode: SyncReasonCode?
    /// The reason for people.
    public var reasonMessage: String?
    /// The last error's text.
    public var lastError: String?
    /// Failed cycles since the last success.
    public var consecutiveFailures: Int
    /// When the next attempt may run, in milliseconds since 1970, while backing off.
    public var backoffUntil: Int64?
    /// When the last cycle succeeded, in milliseconds since 1970.
    public var lastSyncAt: Int64?
    /// Local mutations not yet acknowledged by the server.
    public var pending: Int
    /// Local mutations the server rejected as invalid (kept, with their reason).
    public var rejected: Int
    /// Remote mutations this device could not apply.
    public var deadLetters: Int
    /// Recorded conflicts not yet acknowledged.
    public var conflicts: Int
    /// While ``phase`` is ``SyncPhase/bootstrapping``: the snapshot's records applied so far
    /// (an interrupted bootstrap's included); `nil` otherwise.
    public var bootstrapRecordsDone: Int?
    /// While ``phase`` is ``SyncPhase/bootstrapping``: the snapshot's records; `nil` otherwise.
    public var bootstrapRecordsTotal: Int?

    /// Creates a status.
    public init(
        phase: SyncPhase = .idle,
        reasonCode: SyncReasonCode? = nil,
        reasonMessage: String? = nil,
        lastError: String? = nil,
        consecutiveFailures: Int = 0,
        backoffUntil: Int64? = nil,
        lastSyncAt: Int64? = nil,
        pending: Int = 0,
        rejected: Int = 0,
        deadLetters: Int = 0,
        conflicts: Int = 0,
        bootstrapRecordsDone: Int? = nil,
        bootstrapRecordsTotal: Int? = nil
    ) {
        self.phase = phase
        self.reasonCode = reasonCode
        self.reasonMessage = reasonMessage
        self.lastError = lastError
        self.consecutiveFailures = consecutiveFailures
        self.backoffUntil = backoffUntil
        self.lastSyncAt = lastSyncAt
        self.pending = pending
        self.rejected = rejected
        self.deadLetters = deadLetters
        self.conflicts = conflicts
        self.bootstrapRecordsDone = bootstrapRecordsDone
        self.bootstrapRecordsTotal = bootstrapRecordsTotal
    }

    enum CodingKeys: String, CodingKey {
        case phase
        case reasonCode = "reason_code"
        case reasonMessage = "reason_message"
        case lastError = "last_error"
        case consecutiveFailures = "consecutive_failures"
        case backoffUntil = "backoff_until"
        case lastSyncAt = "last_sync_at"
        case pending
        case rejected
        case deadLetters = "dead_letters"
        case conflicts
        case bootstrapRecordsDone = "bootstrap_records_done"
        case bootstrapRecordsTotal = "bootstrap_records_total"
    }
}
