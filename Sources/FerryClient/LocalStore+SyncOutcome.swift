import FerryCore
import GRDB

extension LocalStore {
    /// How the last sync of a space ended, as the store keeps it for `ferry status` and
    /// ``diagnose(server:)``: ``SyncEngine/sync(progress:pulled:)`` and each cycle of a
    /// ``SyncManager`` record it.
    public struct SyncOutcome: Sendable, Hashable {
        /// The space.
        public var space: String
        /// ``SyncPhase/healthy`` after a success, ``SyncPhase/backoff`` after a failure.
        public var phase: SyncPhase
        /// Why the last sync failed; `nil` after a success.
        public var reason: SyncReasonCode?
        /// The failure's message; `nil` after a success.
        public var message: String?
        /// When the outcome was recorded, RFC 3339.
        public var at: String
        /// When a sync of the space last succeeded, RFC 3339; `nil` if none did.
        public var lastSuccessAt: String?

        /// Creates an outcome.
        public init(
            space: String,
            phase: SyncPhase,
            reason: SyncReasonCode? = nil,
            message: String? = nil,
            at: String,
            lastSuccessAt: String? = nil
        ) {
            self.space = space
            self.phase = phase
            self.reason = reason
            self.message = message
            self.at = at
            self.lastSuccessAt = lastSuccessAt
        }
    }

    /// Records that a sync of `space` succeeded (`reason` `nil`) or failed with `reason` and
    /// `message`. Synchronous, so that it also works in a cancelled task.
    public func recordSyncOutcome(space: String, reason: SyncReasonCode? = nil, message: String? = nil) throws {
        let now = RFC3339.format(millisecondsSince1970: clock.nowMilliseconds())
        let phase: SyncPhase = reason == nil ? .healthy : .backoff
        try writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO ferry_sync_outcome (space, phase, reason, message, at, last_success_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (space) DO UPDATE SET phase = excluded.phase, reason = excluded.reason,
                        message = excluded.message, at = excluded.at,
                        last_success_at = coalesce(excluded.last_success_at, ferry_sync_outcome.last_success_at)
                    """,
                arguments: [space, phase.rawValue, reason?.rawValue, message, now, reason == nil ? now : nil]
            )
        }
    }

    /// The last recorded outcome of each space's sync, by space.
    public func syncOutcomes() throws -> [String: SyncOutcome] {
        try writer.read { db in try Self.syncOutcomes(db) }
    }

    static func syncOutcomes(_ db: Database) throws -> [String: SyncOutcome] {
        var outcomes: [String: SyncOutcome] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT space, phase, reason, message, at, last_success_at FROM ferry_sync_outcome") {
            let reason: String? = row[2]
            outcomes[row[0]] = SyncOutcome(
                space: row[0],
                phase: SyncPhase(rawValue: row[1]),
                reason: reason.map(SyncReasonCode.init(rawValue:)),
                message: row[3],
                at: row[4],
                lastSuccessAt: row[5]
            )
        }
        return outcomes
    }
}
