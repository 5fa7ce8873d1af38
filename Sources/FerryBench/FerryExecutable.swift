import Foundation

/// Where the built `ferry` executable is, for the benchmark and the tests that start it.
package enum FerryExecutable {
    /// The `ferry` the tests start: `FERRY_BIN`, else the one beside the running binary (the
    /// test bundle sits in the same build folder), else the package's `.build/debug/ferry`.
    package static var forTests: String {
        if let path = ProcessInfo.processInfo.environment["FERRY_BIN"], !path.isEmpty { return path }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ferry")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside.path }
        // This file is Sources/FerryBench/FerryExecutable.swift in the package.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/ferry").path
    }

    /// The path of the running executable: `/proc/self/exe`, else `argv[0]` made absolute.
    package static var current: String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        let first = CommandLine.arguments[0]
        if first.hasPrefix("/") { return first }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(first).standardized.path
    }
}
