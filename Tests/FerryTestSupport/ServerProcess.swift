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

/// Runs `executable` with `arguments` to its end; answers its exit status and what it printed
/// (standard output and standard error together).
public func runProgram(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
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
