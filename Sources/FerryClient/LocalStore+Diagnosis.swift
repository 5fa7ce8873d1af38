import FerryCore
import Foundation
import GRDB

extension LocalStore {
    /// Thresholds of ``diagnose(_:path:clock:options:)``, with documented defaults.
    public struct DiagnosisOptions: Sendable, Hashable {
        /// A pending local mutation older than this makes the outbox check warn: the device
        /// has not pushed for that long. Default 24 hours.
        public var staleOutbox: Duration

        /// Creates options.
        public init(staleOutbox: Duration = .seconds(86_400)) {
            self.staleOutbox = staleOutbox
        }
    }

    /// Checks the store in the database of `reader` as it is, without changing it (unlike
    /// opening a store, which rebuilds stale triggers): that every synced table has its
    /// capture triggers and that they are the ones Ferry would create for the table's
    /// current columns; the outbox (pending count, oldest pending age, rejected); dead
    /// letters; open conflicts; the sync lease; the last sync of each space.
    /// - Parameters:
    ///   - reader: The app's database; a read-only `DatabaseQueue` will do.
    ///   - path: The database's path as the user names it, for the fixes' commands (`DB`
    ///     when `nil`).
    ///   - clock: The wall clock for the ages of the outbox and the lease.
    /// - Throws: `DatabaseError` when the database cannot be read.
    public static func diagnose(
        _ reader: any DatabaseReader,
        path: String? = nil,
        clock: WallClock = .system,
        options: DiagnosisOptions = DiagnosisOptions()
    ) throws -> Diagnosis {
        let database = path.map(shellWord) ?? "DB"
        let now = clock.nowMilliseconds()
        return try reader.read { db in
            db.clearSchemaCache()
            guard try db.tableExists("ferry_tables") else {
                return Diagnosis(checks: [
                    DiagnosisCheck(
                        name: "store",
                        status: .fail,
                        detail: "no Ferry store in this database",
                        fix: "track a table: ferry track --db \(database) TABLE"
                    )
                ])
            }
            var checks: [DiagnosisCheck] = []
            checks += try tableChecks(db, database: database)
            checks.append(try outboxCheck(db, now: now, options: options, database: database))
            checks.append(try deadLetterCheck(db))
            checks.append(try conflictCheck(db, database: database))
            checks.append(try leaseCheck(db, now: now))
            checks += try outcomeChecks(db, database: database)
            let spaces = try String.fetchAll(db, sql: "SELECT space FROM ferry_cursor ORDER BY space")
            return Diagnosis(checks: checks, spaces: spaces)
        }
    }

    /// ``diagnose(_:path:clock:options:)`` of the SQLite database at `path`, opened read-only
    /// (nothing is migrated or rebuilt).
    /// - Throws: ``LocalStoreError`` `no_database` when there is no file at `path`;
    ///   `DatabaseError` when it is not a database that reads.
    public static func diagnose(
        databaseAt path: String,
        clock: WallClock = .system,
        options: DiagnosisOptions = DiagnosisOptions()
    ) throws -> Diagnosis {
        guard FileManager.default.fileExists(atPath: path) else {
            throw LocalStoreError(.noDatabase, "no database at \(path)")
        }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        let reader = try DatabaseQueue(path: path, configuration: configuration)
        return try diagnose(reader, path: path, clock: clock, options: options)
    }

    /// ``diagnose(_:path:clock:options:)`` of this store's database, as it is now (after
    /// the refresh of opening, which fixes the triggers it can).
    public func diagnose(options: DiagnosisOptions = DiagnosisOptions()) throws -> Diagnosis {
        try Self.diagnose(writer, clock: clock, options: options)
    }

    private static func shellWord(_ text: String) -> String {
        text.allSatisfy { $0.isLetter || $0.isNumber || "-_./:=@".contains($0) }
            ? text : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// One check per synced table: it exists, has its key column, its stored columns are
    /// its columns now, and its four capture triggers are the ones Ferry would create now.
    private static func tableChecks(_ db: Database, database: String) throws -> [DiagnosisCheck] {
        let rows = try Row.fetchAll(db, sql: "SELECT name, key_column, columns, renames FROM ferry_tables ORDER BY name")
        guard !rows.isEmpty else {
            return [
                DiagnosisCheck(
                    name: "tables",
                    status: .warn,
                    detail: "no tracked tables: nothing syncs",
                    fix: "ferry track --db \(database) TABLE"
                )
            ]
        }
        let retrack = { (name: String) in
            "ferry track --db \(database) \(shellWord(name)) (or open the store: ferry status --db \(database) rebuilds the triggers)"
        }
        var checks: [DiagnosisCheck] = []
        for row in rows {
            let name: String = row[0]
            let key: String = row[1]
            let check = "triggers \(name)"
            guard try db.tableExists(name) else {
                checks.append(
                    DiagnosisCheck(
                        name: check,
                        status: .fail,
                        detail: "the tracked table \(name) is gone from the database",
                        fix: "create the table again (its synced rows come back from the shadow at the next open)"
                    )
                )
                continue
            }
            let columns = try db.columns(in: name).map(\.name)
            guard columns.contains(key) else {
                checks.append(
                    DiagnosisCheck(
                        name: check,
                        status: .fail,
                        detail: "the key column \(key) of \(name) is gone",
                        fix: "track the table again with its new key: ferry track --db \(database) \(shellWord(name)) --key COLUMN"
                    )
                )
                continue
            }
            var problems: [String] = []
            let stored = try storedColumns(row[2], of: name)
            if stored != columns {
                let added = columns.filter { !stored.contains($0) }
                let removed = stored.filter { !columns.contains($0) }
                var change: [String] = []
                if !added.isEmpty { change.append("added \(added.joined(separator: ", "))") }
                if !removed.isEmpty { change.append("removed \(removed.joined(separator: ", "))") }
                if change.isEmpty { change.append("reordered") }
                problems.append("columns changed since the triggers were built (\(change.joined(separator: "; ")))")
            }
            let renames = try storedRenames(row[3], of: name).filter { columns.contains($0.key) && !columns.contains($0.value) }
            let table = SyncedTable(name: name, keyColumn: key, columns: columns, renamedColumns: renames)
            let expected = triggerSQL(for: table).filter { $0.hasPrefix("CREATE") }
            var present: [String: String] = [:]
            for trigger in try Row.fetchAll(
                db,
                sql: "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
                arguments: [name]
            ) {
                present[trigger[0]] = trigger[1]
            }
            var missing: [String] = []
            var differing: [String] = []
            for (suffix, sql) in zip(["insert", "update", "rekey", "delete"], expected) {
                let trigger = "ferry_\(name)_\(suffix)"
                guard let actual = present[trigger] else {
                    missing.append(trigger)
                    continue
                }
                if normalizedSQL(actual) != normalizedSQL(sql) { differing.append(trigger) }
            }
            if !missing.isEmpty { problems.append("missing \(missing.joined(separator: ", "))") }
            if !differing.isEmpty && stored == columns {
                problems.append("\(differing.joined(separator: ", ")) differ from what Ferry creates now")
            } else if !differing.isEmpty {
                problems.append("\(differing.count) of 4 triggers capture the old columns")
            }
            if problems.isEmpty {
                checks.append(DiagnosisCheck(name: check, status: .ok, detail: "4 triggers match the \(columns.count) columns"))
            } else {
                checks.append(
                    DiagnosisCheck(
                        name: check,
                        status: .fail,
                        detail: problems.joined(separator: "; ") + ": writes are not captured as they should be",
                        // Opening a store rebuilds triggers that are missing or whose columns
                        // changed, not one whose text differs: only tracking again does that.
                        fix: missing.isEmpty && stored == columns ? "ferry track --db \(database) \(shellWord(name))" : retrack(name)
                    )
                )
            }
        }
        return checks
    }

    /// SQL with runs of white space as one space, to compare statements.
    private static func normalizedSQL(_ sql: String) -> String {
        sql.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    private static func outboxCheck(_ db: Database, now: Int64, options: DiagnosisOptions, database: String) throws -> DiagnosisCheck {
        let row = try Row.fetchOne(
            db,
            sql: """
                SELECT (SELECT count(*) FROM ferry_outbox WHERE state = 'pending'),
                       (SELECT min(created_at) FROM ferry_outbox WHERE state = 'pending'),
                       (SELECT count(*) FROM ferry_outbox WHERE state = 'rejected')
                """
        )!
        let pending: Int = row[0]
        let oldest: String? = row[1]
        let rejected: Int = row[2]
        var detail = "\(pending) pending"
        var age: Duration?
        if let oldest, let created = RFC3339.millisecondsSince1970(oldest) {
            age = .milliseconds(max(0, now - created))
            detail += ", oldest \(ProgressReporter.format(age!)) old"
        }
        if rejected > 0 { detail += ", \(rejected) rejected by the server" }
        if rejected > 0 {
            return DiagnosisCheck(
                name: "outbox",
                status: .warn,
                detail: detail,
                fix: "the server refused them as invalid (reason in ferry_outbox.reason): write those records again from the app"
            )
        }
        if let age, age > options.staleOutbox {
            return DiagnosisCheck(
                name: "outbox",
                status: .warn,
                detail: detail,
                fix: "sync: ferry sync --db \(database) --server URL --space SPACE --token TOKEN"
            )
        }
        return DiagnosisCheck(name: "outbox", status: .ok, detail: detail)
    }

    private static func deadLetterCheck(_ db: Database) throws -> DiagnosisCheck {
        let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM ferry_dead_letters") ?? 0
        guard count > 0 else { return DiagnosisCheck(name: "dead letters", status: .ok, detail: "none") }
        let last = try String.fetchOne(db, sql: "SELECT error FROM ferry_dead_letters ORDER BY id DESC LIMIT 1") ?? ""
        return DiagnosisCheck(
            name: "dead letters",
            status: .warn,
            detail: "\(count) remote changes this database refused; last: \(last)",
            fix: "relax the constraint the error names (LocalStore.deadLetters() lists them), then track the table again"
        )
    }

    private static func conflictCheck(_ db: Database, database: String) throws -> DiagnosisCheck {
        let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM ferry_conflicts WHERE acknowledged_at IS NULL") ?? 0
        guard count > 0 else { return DiagnosisCheck(name: "conflicts", status: .ok, detail: "none open") }
        return DiagnosisCheck(
            name: "conflicts",
            status: .warn,
            detail: "\(count) open (settled by their policy, not yet acknowledged)",
            fix: "ferry conflicts list --db \(database), then ferry conflicts resolve --db \(database) ID"
        )
    }

    private static func leaseCheck(_ db: Database, now: Int64) throws -> DiagnosisCheck {
        guard let row = try Row.fetchOne(db, sql: "SELECT owner, expires_at FROM ferry_lease WHERE id = 1") else {
            return DiagnosisCheck(name: "lease", status: .ok, detail: "not held: no sync manager runs")
        }
        let owner: String = row[0]
        let expires: Int64 = row[1]
        let until = RFC3339.format(millisecondsSince1970: expires)
        if expires > now {
            return DiagnosisCheck(name: "lease", status: .ok, detail: "held by \(owner) until \(until)")
        }
        return DiagnosisCheck(
            name: "lease",
            status: .warn,
            detail: "held by \(owner), expired at \(until): its process stopped without giving it up",
            fix: "nothing to do: the next sync takes it over"
        )
    }

    private static func outcomeChecks(_ db: Database, database: String) throws -> [DiagnosisCheck] {
        guard try db.tableExists("ferry_sync_outcome") else { return [] }
        return try syncOutcomes(db).values.sorted { $0.space < $1.space }.map { outcome in
            let name = "last sync \(outcome.space)"
            guard let reason = outcome.reason else {
                return DiagnosisCheck(name: name, status: .ok, detail: "succeeded at \(outcome.at)")
            }
            let fix: String
            switch reason {
            case .authRequired: fix = "get a new token (ferry token create) and sync with it"
            case .policyForbidden: fix = "use a token whose scope holds the space \(outcome.space)"
            case .transient: fix = "check that the server is up (ferry doctor --server URL --token TOKEN), then sync again"
            default: fix = "read the message, then sync again: ferry sync --db \(database) ..."
            }
            let since = outcome.lastSuccessAt.map { "last success \($0)" } ?? "never succeeded"
            return DiagnosisCheck(
                name: name,
                status: .warn,
                detail: "failed at \(outcome.at) (\(reason)): \(outcome.message ?? ""); \(since)",
                fix: fix
            )
        }
    }
}
