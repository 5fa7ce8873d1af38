import ArgumentParser

@main
struct Ferry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry",
        abstract: "Ferry: a local-first sync engine. Serve the ordered sync log and manage its tokens.",
        subcommands: [Serve.self, Token.self]
    )
}
