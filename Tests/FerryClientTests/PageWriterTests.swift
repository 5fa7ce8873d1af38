import FerryCore
import GRDB
import Testing

@testable import FerryClient

/// The page writer on its own, in an in-memory database: rows written several to a
/// statement, and the rows the database refuses handed back, not thrown.
@Suite struct PageWriterTests {
    private static let table = SyncedTable(name: "notes", keyColumn: "id", columns: ["id", "title"])

    private static func database() throws -> DatabaseQueue {
        let database = try DatabaseQueue()
        try database.write { db in
            try db.execute(sql: "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT CHECK (length(title) < 10))")
        }
        return database
    }

    private static func mutation(_ seq: Int64, _ title: String) -> (LoggedMutation, RecordFields) {
        let record: RecordFields = ["id": .string("k\(seq)"), "title": .string(title)]
        let mutation = LoggedMutation(
            seq: seq,
            deviceID: "other",
            sessionID: "s",
            mutation: MutationInput(clientActionID: seq, entity: "notes", entityKey: "k\(seq)", op: .upsert, payload: .object(record)),
            occurredAtMilliseconds: 1_763_856_000_000
        )
        return (mutation, record)
    }

    private static func titles(_ database: DatabaseQueue) throws -> [String] {
        try database.read { db in try String.fetchAll(db, sql: "SELECT title FROM notes ORDER BY rowid") }
    }

    @Test func rowsWaitUntilTheFlushAndNoneIsRefused() throws {
        let database = try Self.database()
        try database.write { db in
            let writer = PageWriter(db)
            for seq in Int64(1)...3 {
                let (mutation, record) = Self.mutation(seq, "t\(seq)")
                try writer.bufferRow(Self.table, key: mutation.entityKey, record: record, for: mutation)
            }
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM notes") == 0)
            #expect(try writer.flush().isEmpty)
        }
        #expect(try Self.titles(database) == ["t1", "t2", "t3"])
    }

    @Test(arguments: [3, 150])  // one statement, and more than one
    func aRefusedRowIsReturnedAndTheOthersAreWritten(count: Int) throws {
        let database = try Self.database()
        let refused = try database.write { db in
            let writer = PageWriter(db)
            for seq in Int64(1)...Int64(count) {
                let (mutation, record) = Self.mutation(seq, seq == 2 ? "far too long a title" : "t\(seq)")
                try writer.bufferRow(Self.table, key: mutation.entityKey, record: record, for: mutation)
            }
            let refused = try writer.flush()
            #expect(try writer.flush().isEmpty)  // handed out once
            return refused.map { ($0.mutation.seq, $0.error.resultCode) }
        }
        #expect(refused.map(\.0) == [2])
        #expect(refused.map(\.1) == [.SQLITE_CONSTRAINT])
        #expect(try Self.titles(database) == (1...count).filter { $0 != 2 }.map { "t\($0)" })
    }

    @Test func shadowsAreWrittenOnFlush() throws {
        let database = try Self.database()
        try LocalStore.migrator.migrate(database)
        try database.write { db in
            let writer = PageWriter(db)
            try writer.bufferShadow(entity: "notes", key: "k1", record: ["title": .string("a")], seq: 1)
            try writer.bufferShadow(entity: "notes", key: "k2", record: nil, seq: 2)
            #expect(try writer.flush().isEmpty)
            let rows = try Row.fetchAll(db, sql: "SELECT entity_key, row, seq FROM ferry_shadow ORDER BY seq")
            #expect(rows.map { $0[0] as String } == ["k1", "k2"])
            #expect(rows.map { $0[1] as String? } == ["{\"title\":\"a\"}", nil])
        }
    }
}
