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

    /// The dead letters, oldest first.
    public func deadLetters() throws -> [DeadLetter] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT id, seq, entity, entity_key, op, error, failed_at FROM ferry_dead_letters ORDER BY id")
                .map { DeadLetter(id: $0[0], seq: $0[1], entity: $0[2], entityKey: $0[3], op: $0[4], error: $0[5], failedAt: $0[6]) }
        }
    }
}
