import GRDB

/// Checks that devices hold the same data.
public enum Convergence {
    /// Every row of `table`, ordered by `keyColumn`, each as column → value text: a form two
    /// databases can be compared in with `==`.
    public static func rows(of table: String, keyColumn: String, in database: any DatabaseReader) throws -> [[String: String]] {
        try database.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM \(table.quotedDatabaseIdentifier) ORDER BY \(keyColumn.quotedDatabaseIdentifier)"
            ).map { row in
                var values: [String: String] = [:]
                for (column, value) in row { values[column] = value.description }
                return values
            }
        }
    }
}
