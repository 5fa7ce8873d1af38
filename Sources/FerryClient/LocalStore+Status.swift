import GRDB

extension LocalStore {
    /// What waits or went wrong in the store, for a sync status.
    public struct Counts: Sendable, Hashable {
        /// Local mutations not yet acknowledged by the server.
        public var pending: Int
        /// Local mutations the server rejected as invalid (kept, with their reason).
        public var rejected: Int
        /// Remote mutations this device could not apply.
        public var deadLetters: Int
        /// Recorded conflicts not yet acknowledged.
        public var conflicts: Int

        /// Creates counts.
        public init(pending: Int = 0, rejected: Int = 0, deadLetters: Int = 0, conflicts: Int = 0) {
            self.pending = pending
            self.rejected = rejected
            self.deadLetters = deadLetters
            self.conflicts = conflicts
        }
    }

    /// The counts for the sync status: pending and rejected local mutations, dead letters,
    /// unacknowledged conflicts.
    public func counts() throws -> Counts {
        try writer.read(Self.counts)
    }

    /// The counts for the sync status; see ``counts()``.
    public func counts() async throws -> Counts {
        try await writer.read(Self.counts)
    }

    private static func counts(_ db: Database) throws -> Counts {
        let row = try Row.fetchOne(
            db,
            sql: """
                SELECT (SELECT count(*) FROM ferry_outbox WHERE state = 'pending'),
                       (SELECT count(*) FROM ferry_outbox WHERE state = 'rejected'),
                       (SELECT count(*) FROM ferry_dead_letters),
                       (SELECT count(*) FROM ferry_conflicts WHERE acknowledged_at IS NULL)
                """
        )!
        return Counts(pending: row[0], rejected: row[1], deadLetters: row[2], conflicts: row[3])
    }

    /// Where a space's copy stands, for `ferry status`: the cursor, the head the server
    /// last answered with, the dead letters of the space and the last sync's outcome.
    public struct SpaceStatus: Sendable, Hashable {
        /// The space.
        public var space: String
        /// The last seq applied.
        public var cursor: Int64
        /// The log's id; `nil` before the first pull.
        public var logID: String?
        /// The head of the space's log at the last pull; `nil` if this version of the store
        /// never pulled the space.
        public var headSeq: Int64?
        /// When a page last moved the cursor, RFC 3339.
        public var pulledAt: String?
        /// Remote mutations of the space this device could not apply.
        public var deadLetters: Int
        /// How the last sync of the space ended, if one was recorded.
        public var outcome: SyncOutcome?

        /// How far the cursor was behind the head at the last pull; `nil` when the head is
        /// unknown.
        public var lag: Int64? { headSeq.map { max(0, $0 - cursor) } }

        /// Creates a space's status.
        public init(
            space: String,
            cursor: Int64,
            logID: String? = nil,
            headSeq: Int64? = nil,
            pulledAt: String? = nil,
            deadLetters: Int = 0,
            outcome: SyncOutcome? = nil
        ) {
            self.space = space
            self.cursor = cursor
            self.logID = logID
            self.headSeq = headSeq
            self.pulledAt = pulledAt
            self.deadLetters = deadLetters
            self.outcome = outcome
        }
    }

    /// The status of every space this device pulled from, reset or synced, by space name.
    public func spaceStatuses() throws -> [SpaceStatus] {
        try writer.read { db in
            let outcomes = try Self.syncOutcomes(db)
            var statuses: [String: SpaceStatus] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT space, last_seq, log_id, head_seq, pulled_at FROM ferry_cursor") {
                statuses[row[0]] = SpaceStatus(space: row[0], cursor: row[1], logID: row[2], headSeq: row[3], pulledAt: row[4])
            }
            for (space, outcome) in outcomes {
                statuses[space, default: SpaceStatus(space: space, cursor: 0)].outcome = outcome
            }
            for row in try Row.fetchAll(db, sql: "SELECT space, count(*) FROM ferry_dead_letters GROUP BY space") {
                let space: String = row[0]
                statuses[space, default: SpaceStatus(space: space, cursor: 0)].deadLetters = row[1]
            }
            return statuses.values.sorted { $0.space < $1.space }
        }
    }

    /// The dead letters, oldest first.
    public func deadLetters() throws -> [DeadLetter] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT id, seq, entity, entity_key, op, error, failed_at FROM ferry_dead_letters ORDER BY id")
                .map { DeadLetter(id: $0[0], seq: $0[1], entity: $0[2], entityKey: $0[3], op: $0[4], error: $0[5], failedAt: $0[6]) }
        }
    }
}
