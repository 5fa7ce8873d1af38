import FerryClient
import FerryCore
import GRDB
import Testing

/// PROTOCOL.md's merge rules ("Mutation"), one table of cases run against `RecordMerge` and
/// against the client's real apply path (a pulled page written to the shadow and the app's row).
@Suite struct MergeRuleTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        /// The mutations, in log order: op and payload (JSON object text, or nil).
        var steps: [(MutationOp, String?)]
        /// The record after them (JSON object text), or nil when it does not exist.
        var expected: String?

        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "upsert of a new record keeps null members", steps: [(.upsert, #"{"a":1,"b":null}"#)], expected: #"{"a":1,"b":null}"#),
        Case(
            name: "upsert replaces the whole record",
            steps: [(.upsert, #"{"a":1,"c":3}"#), (.upsert, #"{"b":2}"#)],
            expected: #"{"b":2}"#
        ),
        Case(
            name: "patch replaces the members it names",
            steps: [(.upsert, #"{"a":1,"b":2}"#), (.patch, #"{"b":3,"c":"x"}"#)],
            expected: #"{"a":1,"b":3,"c":"x"}"#
        ),
        Case(
            name: "patch with null removes the member",
            steps: [(.upsert, #"{"a":1,"b":2}"#), (.patch, #"{"b":null}"#)],
            expected: #"{"a":1}"#
        ),
        Case(
            name: "patch replaces nested objects whole",
            steps: [(.upsert, #"{"a":{"x":1,"y":2},"b":1}"#), (.patch, #"{"a":{"x":5}}"#)],
            expected: #"{"a":{"x":5},"b":1}"#
        ),
        Case(
            name: "patch of a missing record creates it from non-null members",
            steps: [(.patch, #"{"a":1,"b":null}"#)],
            expected: #"{"a":1}"#
        ),
        Case(
            name: "patch of a deleted record creates it from non-null members",
            steps: [(.upsert, #"{"a":1,"b":2}"#), (.delete, nil), (.patch, #"{"c":3,"a":null}"#)],
            expected: #"{"c":3}"#
        ),
        Case(name: "delete removes", steps: [(.upsert, #"{"a":1}"#), (.delete, nil)], expected: nil),
        Case(name: "delete of a missing record", steps: [(.delete, #"{}"#)], expected: nil),
        Case(name: "upsert after delete", steps: [(.upsert, #"{"a":1}"#), (.delete, nil), (.upsert, #"{"b":2}"#)], expected: #"{"b":2}"#),
        Case(
            name: "patches in a row",
            steps: [(.patch, #"{"a":1}"#), (.patch, #"{"b":2}"#), (.patch, #"{"a":null,"c":null}"#)],
            expected: #"{"b":2}"#
        ),
    ]

    static func fields(_ text: String?) throws -> RecordFields? {
        try text.map { try #require(try JSONValue(parsing: $0).objectValue) }
    }

    @Test(arguments: cases)
    func recordMergeFollowsTheRules(_ rule: Case) throws {
        var record: RecordFields?
        for (op, payload) in rule.steps {
            record = RecordMerge.apply(op, payload: try Self.fields(payload), to: record)
        }
        #expect(record == (try Self.fields(rule.expected)))
    }

    @Test(arguments: cases)
    func theClientsApplyFollowsTheRules(_ rule: Case) throws {
        let database = try DatabaseQueue()
        try database.write { db in try db.execute(sql: "CREATE TABLE items (id TEXT PRIMARY KEY, a, b, c)") }
        let store = try LocalStore(database)
        try store.register(table: "items")
        var mutations: [LoggedMutation] = []
        for (index, (op, payload)) in rule.steps.enumerated() {
            mutations.append(
                LoggedMutation(
                    seq: Int64(index + 1),
                    deviceID: "other",
                    sessionID: "s",
                    mutation: Mutation(
                        clientActionID: Int64(index + 1),
                        entity: "items",
                        entityKey: "k",
                        op: op,
                        payload: try Self.fields(payload).map(JSONValue.object)
                    ),
                    occurredAtMilliseconds: 0
                )
            )
        }
        // One page per mutation, and all in one page: both paths of the page writer.
        for split in [true, false] {
            try store.reset(space: "s", logID: "log")
            if split {
                for mutation in mutations {
                    try store.apply(
                        PullResponse(mutations: [mutation], hasMore: false, latestSeq: mutation.seq, headSeq: mutation.seq, logID: "log"),
                        space: "s"
                    )
                }
            } else {
                let head = Int64(mutations.count)
                try store.apply(
                    PullResponse(mutations: mutations, hasMore: false, latestSeq: head, headSeq: head, logID: "log"),
                    space: "s"
                )
            }
            let (shadow, row) = try database.read { db in
                (
                    try String.fetchOne(db, sql: "SELECT row FROM ferry_shadow WHERE entity = 'items' AND entity_key = 'k'"),
                    try Row.fetchOne(db, sql: "SELECT a, b, c FROM items WHERE id = 'k'")
                )
            }
            let expected = try Self.fields(rule.expected)
            #expect(try Self.fields(shadow) == expected, "shadow, split \(split)")
            #expect((row != nil) == (expected != nil), "app row, split \(split)")
            if let row, let expected {
                for (index, column) in ["a", "b", "c"].enumerated() {
                    let value = row[index] as DatabaseValue
                    switch expected[column] {
                    case nil, .null?: #expect(value.isNull, "\(column), split \(split)")
                    case .int(let number)?: #expect(value == number.databaseValue, "\(column), split \(split)")
                    case .string(let text)?: #expect(value == text.databaseValue, "\(column), split \(split)")
                    default: #expect(!value.isNull, "\(column), split \(split)")
                    }
                }
            }
        }
    }
}
