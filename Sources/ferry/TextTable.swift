/// A table of text for the terminal: a header row and rows, each column as wide as its
/// widest cell, columns two spaces apart, trailing spaces trimmed.
struct TextTable {
    var header: [String]
    var rows: [[String]] = []

    /// The table's lines.
    func render() -> String {
        let all = [header] + rows
        let count = all.map(\.count).max() ?? 0
        let widths = (0..<count).map { column in all.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return all.map { row in
            let cells = row.enumerated().map { column, cell in
                cell + String(repeating: " ", count: widths[column] - cell.count)
            }
            var line = cells.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            return line
        }.joined(separator: "\n")
    }
}
