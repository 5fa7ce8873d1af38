import ArgumentParser
import FerryBench
import FerryClient
import FerryCore
import FerryHTTP
import Foundation
import Synchronization
import UnixSignals

struct StreamEvents: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream",
        abstract: "Follow a space's event stream: write its events as NDJSON and acknowledge them.",
        discussion: """
            Reads POST /sync/stream for the device and types, from the server's checkpoints up to
            the head, and writes each event as one NDJSON line to --out (appending) or to
            standard output. With --out, the file is written and fsynced before the events are
            acknowledged; when the server asks the device to start over (SyncReset), the file is
            truncated. A progress line goes to standard error; the totals per type go to standard
            output with --out, to standard error otherwise. SIGINT or SIGTERM stops the run
            without acknowledging anything not yet on disk (exit status 130 or 143); the events
            not acknowledged come again next time.
            """
    )

    @Option(name: .long, help: "The server's URL, e.g. http://127.0.0.1:8080.")
    var server: String

    @Option(name: .long, help: "The space to stream.")
    var space: String

    @Option(name: .long, help: "The device whose checkpoints are used.")
    var device: String

    @Option(name: .long, help: "The event types (entity names), comma-separated: note,task.")
    var types: String

    @Option(name: .long, help: "The access token.")
    var token: String

    @Option(name: .long, help: "A refresh token, used when the access token expires.")
    var refreshToken: String?

    @Option(name: .long, help: "The file to append events to (default: standard output).")
    var out: String?

    @Option(name: .long, help: "Events per batch (default 100).")
    var batchSize: Int = 100

    @Flag(name: .long, help: "Skip and report invalid lines instead of stopping at the first.")
    var skipInvalid = false

    var typeList: [String] { types.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func validate() throws {
        guard ProtocolRules.isValidSpace(space) else { throw ValidationError("'\(space)' is not a space name") }
        guard ProtocolRules.isValidClientID(device) else { throw ValidationError("'\(device)' is not a device id") }
        guard !typeList.isEmpty else { throw ValidationError("--types needs at least one entity name") }
        for type in typeList where !ProtocolRules.isValidEntity(type) {
            throw ValidationError("'\(type)' is not an entity name")
        }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
    }

    func run() async throws {
        let stream = HTTPEventStream(
            configuration: HTTPTransportConfiguration(baseURL: server, accessToken: token, refreshToken: refreshToken),
            space: space,
            deviceID: device
        )
        let pipeline = EventPipeline(
            stream: stream,
            types: typeList,
            configuration: EventPipelineConfiguration(batchSize: batchSize, invalidEvents: skipInvalid ? .skip : .fail)
        )
        let progress = ProgressLine(space: space)
        let out = self.out
        let run = Task {
            let processor = try NDJSONFileProcessor(path: out)
            return try await pipeline.run(processor: processor) { progress.update($0) }
        }
        let caught = Mutex<UnixSignal?>(nil)
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let watcher = Task {
            for await signal in signals {
                caught.withLock { $0 = signal }
                run.cancel()
                return
            }
        }
        let outcome = await run.result
        watcher.cancel()
        progress.finish()
        try? await stream.shutdown()

        switch outcome {
        case .success(let result):
            report(result)
        case .failure(let error as EventPipelineError):
            report(error.result)
            standardError("ferry stream: \(error.message)")
            throw ExitCode.failure
        case .failure(is CancellationError):
            let signal = caught.withLock { $0 }
            standardError(
                "ferry stream: stopped by \(signal.map { "\($0)" } ?? "cancellation"); "
                    + "\(progress.acknowledged) events acknowledged, the others come again next time"
            )
            throw ExitCode(signal == .sigterm ? 143 : 130)
        case .failure(let error):
            standardError("ferry stream: \(error)")
            throw ExitCode.failure
        }
    }

    private func report(_ result: EventPipelineResult) {
        var lines: [String] = []
        for (type, count) in result.totals.sorted(by: { $0.key < $1.key }) {
            lines.append("\(type): \(count)")
        }
        lines.append("total: \(result.total)")
        if let head = result.completedThrough { lines.append("complete through seq \(head)") }
        if result.resets > 0 { lines.append("resets: \(result.resets)") }
        if result.skippedCount > 0 {
            lines.append("skipped invalid lines: \(result.skippedCount)")
            for line in result.skipped { lines.append("  line \(line.position): \(line.reason): \(line.excerpt)") }
        }
        let text = lines.joined(separator: "\n")
        if out == nil { standardError(text) } else { print(text) }
    }
}

/// Writes a line to standard error.
private func standardError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// The stream's progress on standard error (``ProgressReporter``): events streamed, with
/// the rate, rewritten in place on a terminal, a plain line every few seconds otherwise.
private final class ProgressLine: Sendable {
    private let reporter: ProgressReporter
    private let latest = Mutex(EventPipelineProgress(processed: 0, acknowledged: 0))

    init(space: String) {
        reporter = ProgressReporter.standardError(label: "stream \(space)", unit: "events")
    }

    var acknowledged: Int { latest.withLock { $0.acknowledged } }

    func update(_ progress: EventPipelineProgress) {
        latest.withLock { $0 = progress }
        reporter.update(done: Int64(progress.processed))
    }

    /// Shows the last line when a line was shown (a short stream shows none).
    func finish() {
        guard reporter.hasShown else { return }
        reporter.finish(done: Int64(latest.withLock { $0.processed }))
    }
}
