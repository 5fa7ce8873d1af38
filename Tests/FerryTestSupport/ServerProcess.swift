// The `ferry serve` child process (`ServerProcess`), the location of the built `ferry`
// (`ServerProcess.executable`), throwaway PostgreSQL databases and `ProcessError` are
// FerryBench's, shared with the benchmark: the tests name them through this module.
@_exported import FerryBench

extension ServerProcess {
    /// The path of the built `ferry` executable: `FERRY_BIN`, or beside the test binary, or
    /// in the package's `.build/debug`.
    package static var executable: String { FerryExecutable.forTests }
}
