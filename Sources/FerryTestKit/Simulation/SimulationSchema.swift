import FerryClient
import FerryCore
import Foundation

/// The tables a ``Simulation`` writes to: an app's own schema, or ``standard``.
///
/// Each table has a text key column and value columns, each with the values the simulated
/// app writes into it (a small pool, so that devices collide). The ``poison`` row is one that
/// every device's database refuses (a `CHECK` constraint, say): the simulation pushes it
/// straight to the server, and expects it in the devices' dead letters and nowhere else.
public struct SimulationSchema: Sendable {
    /// One synced table.
    public struct Table: Sendable {
        /// The table's name (the mutations' entity).
        public var name: String
        /// The key column (text).
        public var keyColumn: String
        /// The value columns, each with the values the app writes into it.
        public var columns: [(name: String, values: [JSONValue])]
        /// The `CREATE TABLE` statement.
        public var createSQL: String
        /// How the table's conflicts are settled.
        public var policy: ConflictPolicy

        /// Creates a table.
        public init(
            name: String,
            keyColumn: String,
            columns: [(name: String, values: [JSONValue])],
            createSQL: String,
            policy: ConflictPolicy = .lastWriterWins
        ) {
            self.name = name
            self.keyColumn = keyColumn
            self.columns = columns
            self.createSQL = createSQL
            self.policy = policy
        }

        /// The names of the value columns.
        public var columnNames: [String] { columns.map(\.name) }
    }

    /// A record that the devices' databases refuse.
    public struct Poison: Sendable {
        /// Its table.
        public var table: String
        /// Its fields (the key column's included).
        public var record: [String: JSONValue]

        /// Creates a poison record.
        public init(table: String, record: [String: JSONValue]) {
            self.table = table
            self.record = record
        }
    }

    /// The tables.
    public var tables: [Table]
    /// The keys the app writes, the same for every table: few, so that devices collide.
    public var keys: [String]
    /// The poison record, or `nil` for none (no poison steps are made then).
    public var poison: Poison?

    /// The prefix of the keys the poison rows get (`poison-1`, `poison-2`, …); the app never
    /// writes such a key.
    public static let poisonKeyPrefix = "poison-"

    /// Creates a schema.
    public init(tables: [Table], keys: [String], poison: Poison?) {
        self.tables = tables
        self.keys = keys
        self.poison = poison
    }

    /// Two tables: `notes` (last writer wins, with a BLOB column) and `tags` (remote wins,
    /// with a `CHECK` that the poison row breaks); five keys; values with nulls, numbers,
    /// bytes and non-ASCII text.
    public static let standard = SimulationSchema(
        tables: [
            Table(
                name: "notes",
                keyColumn: "id",
                columns: [
                    ("title", [.string("a"), .string("b"), .string("Ünïcode ✓"), .string(""), .null]),
                    ("body", [.string("x"), .string("y"), .string("line\nbreak"), .null]),
                    ("rank", [.int(0), .int(1), .int(-7), .int(1 << 40), .null]),
                    ("data", [Self.bytes([0, 1, 2]), Self.bytes([]), Self.bytes([0xFF]), .null]),
                ],
                createSQL: "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT, body TEXT, rank INTEGER, data BLOB)",
                policy: .lastWriterWins
            ),
            Table(
                name: "tags",
                keyColumn: "id",
                columns: [
                    ("name", [.string("red"), .string("green"), .string("blue")]),
                    ("uses", [.int(0), .int(3), .int(12), .null]),
                ],
                createSQL: "CREATE TABLE tags (id TEXT PRIMARY KEY, name TEXT, uses INTEGER CHECK (uses IS NULL OR uses >= 0))",
                policy: .remoteWins
            ),
        ],
        keys: ["k1", "k2", "k3", "k4", "k5"],
        poison: Poison(table: "tags", record: ["name": .string("poison"), "uses": .int(-1)])
    )

    func table(named name: String) -> Table? { tables.first { $0.name == name } }

    /// A BLOB column's value as the wire carries it.
    public static func bytes(_ bytes: [UInt8]) -> JSONValue { .object(["$base64": .string(Data(bytes).base64EncodedString())]) }
}
