import ArgumentParser

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
