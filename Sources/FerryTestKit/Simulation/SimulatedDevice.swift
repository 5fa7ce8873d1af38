import FerryClient
import FerryCore
import Foundation
import GRDB
import Synchronization

/// The error a simulated crash throws inside a transaction.
struct SimulatedCrash: Error, CustomStringConvertible {
    var description: String { "simulated crash inside a transaction" }
}

/// Makes the `n`th transaction that moves a cursor or applies a snapshot chunk fail at its
/// commit, so that SQLite rolls it back: what a process killed in the middle of applying a
/// page or a bootstrap leaves behind.
final class CrashSwitch: TransactionObserver, Sendable {
    private struct State {
        var target: Int?
        var seen = 0
        var touched = false
    }

    private let state = Mutex(State())

    /// Crashes inside the `n`th cursor-moving transaction from now (1 for the next).
    func arm(at n: Int) {
        state.withLock { $0 = State(target: n) }
    }

    /// Stops crashing; answers whether the armed crash happened.
    @discardableResult
    func disarm() -> Bool {
        state.withLock { state in
            let crashed = state.target == nil && state.seen > 0
            state = State()
            return crashed
        }
    }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool {
        eventKind.tableName == "ferry_cursor" || eventKind.tableName == "ferry_bootstrap_chunks"
    }

    func databaseDidChange(with event: DatabaseEvent) {
        state.withLock { $0.touched = true }
    }

    func databaseWillCommit() throws {
        try state.withLock { state in
            guard state.touched, let target = state.target else { return }
            state.touched = false
            state.seen += 1
            if state.seen == target {
                state.target = nil
                throw SimulatedCrash()
            }
        }
    }

    func databaseDidCommit(_ db: Database) {
        state.withLock { $0.touched = false }
    }

    func databaseDidRollback(_ db: Database) {
        state.withLock { $0.touched = false }
    }
}

/// One simulated device: an app database in memory, its `LocalStore`, and its link.
final class SimulatedDevice {
    let index: Int
    private(set) var database: DatabaseQueue
    let crashSwitch = CrashSwitch()
    let link: SimulatedLink
    private let schema: SimulationSchema
    private let clock: WallClock
    private(set) var store: LocalStore
    /// The cursor seen after the last step.
    var lastCursor = LocalStore.Cursor(lastSeq: 0, logID: nil)

    init(index: Int, schema: SimulationSchema, clock: WallClock, link: SimulatedLink) throws {
        self.index = index
        self.schema = schema
        self.clock = clock
        self.link = link
        database = try Self.appDatabase(schema)
        store = try Self.open(database, schema: schema, clock: clock)
    }

    private static func appDatabase(_ schema: SimulationSchema) throws -> DatabaseQueue {
        let database = try DatabaseQueue()
        try database.write { db in
            for table in schema.tables { try db.execute(sql: table.createSQL) }
        }
        return database
    }

    /// The app is installed again: a new database and a new device id.
    func reinstall() throws {
        database = try Self.appDatabase(schema)
        store = try Self.open(database, schema: schema, clock: clock)
        lastCursor = LocalStore.Cursor(lastSeq: 0, logID: nil)
    }

    /// Crashes inside the `n`th cursor-moving transaction from now. The switch observes the
    /// database only while armed: an observer makes GRDB track every statement's tables.
    func armCrash(at n: Int) throws {
        crashSwitch.arm(at: n)
        try database.write { db in db.add(transactionObserver: crashSwitch, extent: .observerLifetime) }
    }

    /// Stops the crash switch.
    func disarmCrash() {
        crashSwitch.disarm()
        database.remove(transactionObserver: crashSwitch)
    }

    private static func open(_ database: DatabaseQueue, schema: SimulationSchema, clock: WallClock) throws -> LocalStore {
        let store = try LocalStore(database, clock: clock)
        for table in schema.tables {
            try store.register(table: table.name, keyColumn: table.keyColumn, policy: table.policy)
        }
        return store
    }

    /// The app restarts: a new store (a new session) on the same database.
    func reopen() throws {
        store = try Self.open(database, schema: schema, clock: clock)
    }

    /// The app writes a row, as `step` says.
    func write(table: SimulationSchema.Table, key: String, kind: SimulationStep.WriteKind, values: [JSONValue], fields: Int) throws {
        let name = table.name.quotedDatabaseIdentifier
        let keyColumn = table.keyColumn.quotedDatabaseIdentifier
        let columns = table.columnNames
        let bound = values.map(Self.databaseValue)
        try database.write { db in
            let exists =
                try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM \(name) WHERE \(keyColumn) = ?)", arguments: [key]) ?? false
            switch kind {
            case .insert where !exists:
                let list = ([table.keyColumn] + columns).map(\.quotedDatabaseIdentifier).joined(separator: ", ")
                let marks = Array(repeating: "?", count: columns.count + 1).joined(separator: ", ")
                try db.execute(
                    sql: "INSERT INTO \(name) (\(list)) VALUES (\(marks))",
                    arguments: StatementArguments([key.databaseValue] + bound)
                )
            case .insert, .update:
                guard exists else { return }
                let chosen = kind == .insert ? Array(columns.indices) : columns.indices.filter { fields & (1 << $0) != 0 }
                guard !chosen.isEmpty else { return }
                let sets = chosen.map { "\(columns[$0].quotedDatabaseIdentifier) = ?" }.joined(separator: ", ")
                try db.execute(
                    sql: "UPDATE \(name) SET \(sets) WHERE \(keyColumn) = ?",
                    arguments: StatementArguments(chosen.map { bound[$0] } + [key.databaseValue])
                )
            case .delete:
                try db.execute(sql: "DELETE FROM \(name) WHERE \(keyColumn) = ?", arguments: [key])
            }
        }
    }

    /// The rows of `table` as JSON values, key column first, ordered by key.
    func rows(of table: SimulationSchema.Table) throws -> [[JSONValue]] {
        let list = ([table.keyColumn] + table.columnNames).map(\.quotedDatabaseIdentifier).joined(separator: ", ")
        return try database.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT \(list) FROM \(table.name.quotedDatabaseIdentifier) ORDER BY \(table.keyColumn.quotedDatabaseIdentifier)"
            ).map { row in row.databaseValues.map(Self.jsonValue) }
        }
    }

    static func databaseValue(_ value: JSONValue) -> DatabaseValue {
        switch value {
        case .int(let number): number.databaseValue
        case .double(let number): number.databaseValue
        case .string(let text): text.databaseValue
        case .bool(let flag): flag.databaseValue
        case .object(let members):
            // Bytes, as the wire carries them: {"$base64": "…"}.
            if case .string(let text)? = members["$base64"], let data = Data(base64Encoded: text) { data.databaseValue } else { .null }
        default: .null
        }
    }

    static func jsonValue(_ value: DatabaseValue) -> JSONValue {
        switch value.storage {
        case .null: .null
        case .int64(let number): .int(number)
        case .double(let number): .double(number)
        case .string(let text): .string(text)
        case .blob(let data): .object(["$base64": .string(data.base64EncodedString())])
        }
    }
}
