import ArgumentParser
import Foundation
import Logging

@main
struct Ferry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry",
        abstract: "Ferry: a local-first sync engine.",
        discussion: "Server: serve, token. Client: track, sync, status, conflicts. Benchmarks: bench.",
        subcommands: [
            Serve.self, Token.self, Track.self, Sync.self, Status.self, Conflicts.self, Bench.self, BenchClient.self,
        ]
    )
}

/// Sends the process's logs to standard error from `level` up (a command sets this up once).
func logToStandardError(from level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}

/// Prints `value` as JSON on one line, keys sorted.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
