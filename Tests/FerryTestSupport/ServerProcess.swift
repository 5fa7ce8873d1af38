// The `ferry serve` child process (`ServerProcess`), the location of the built `ferry`
// (`ServerProcess.executable`), throwaway PostgreSQL databases and `ProcessError` are
// FerryBench's, shared with the benchmark: the tests name them through this module.
@_exported import FerryBench
import Foundation

extension ServerProcess {
    /// The path of the built `ferry` executable: `FERRY_BIN`, or beside the test binary, or
    /// in the package's `.build/debug`.
    package static var executable: String { FerryExecutable.forTests }
}

/// Runs `sql` on the SQLite file at `path` with Python's sqlite3 module: a program other
/// than Ferry writing the app's database.
public func runSQLite(_ path: String, _ sql: String) throws {
    let script = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.executescript(sys.argv[2])\nc.commit()\n"
    let result = try runProgram("/usr/bin/env", ["python3", "-c", script, path, sql])
    guard result.status == 0 else { throw ProcessError(message: "python3 failed: \(result.output)") }
}

/// Runs the built `ferry` with `arguments` to its end; answers its exit status and what it
/// printed.
public func ferry(_ arguments: [String]) throws -> (status: Int32, output: String) {
    try runProgram(ServerProcess.executable, arguments)
}
