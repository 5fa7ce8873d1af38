import ArgumentParser
import FerryBench
import Foundation
import Logging

@main
struct Ferry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry",
        abstract: "Ferry: a local-first sync engine.",
        discussion:
            "Try it: demo. Server: serve, token, snapshot, prune. Client: track, import, sync, status, doctor, conflicts, stream, delta. Benchmarks: bench.",
        subcommands: [
            Demo.self, Serve.self, Token.self, Snapshot.self, Prune.self, Track.self, Import.self, Sync.self, Status.self, Doctor.self,
            Conflicts.self,
            StreamEvents.self, Delta.self, BenchCommand.self,
            BenchClientCommand.self,
        ]
    )
}

/// Prints `value` as JSON on one line, keys sorted.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
