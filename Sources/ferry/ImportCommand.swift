import ArgumentParser
import FerryBench
import FerryClient
import FerryCore
import FerryHTTP
import Foundation

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import records from an NDJSON file into a tracked table, then push them in bulk.",
        discussion: """
            Each line of the file is a JSON object: a record of the table, keyed by the table's
            key column. All records are written in one local transaction, as local upserts
            (members that are not columns of the table are left out). With --server, --space
            and --token they are then pushed as bulk chunks (POST /sync/push), or in push
            batches when the server does not take bulk chunks; without them they wait in the
            outbox for the next ferry sync.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(name: .long, help: "The tracked table to import into.")
    var table: String

    @Option(name: .long, help: "The server's URL, e.g. http://127.0.0.1:8080.")
    var server: String?

    @Option(name: .long, help: "The space to push to.")
    var space: String?

    @Option(name: .long, help: "The access token.")
    var token: String?

    @Option(name: .long, help: "A refresh token, used when the access token expires.")
    var refreshToken: String?

    @Argument(help: "The NDJSON file.")
    var file: String

    func validate() throws {
        let given = [server, space, token].compactMap { $0 }.count
        guard given == 0 || given == 3 else { throw ValidationError("--server, --space and --token go together") }
        if let space, !ProtocolRules.isValidSpace(space) { throw ValidationError("'\(space)' is not a space name") }
    }

    func run() async throws {
        let store = try database.open()
        guard let handle = fopen(file, "r") else {
            throw ValidationError("cannot open \(file): \(String(cString: strerror(errno)))")
        }
        defer { fclose(handle) }
        var lineNumber = 0
        var size: Int64?
        var info = stat()
        if fstat(fileno(handle), &info) == 0, info.st_size > 0 { size = Int64(info.st_size) }
        let reading = ProgressReporter.standardError(label: "import \(table)", unit: "bytes", total: size)
        var buffer: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(buffer) }
        let imported = try store.importRecords(into: table) {
            while true {
                let length = getline(&buffer, &capacity, handle)
                guard length >= 0, let buffer else { return nil }
                lineNumber += 1
                if lineNumber % 1000 == 0 { reading.update(done: Int64(ftello(handle))) }
                let bytes = UnsafeRawBufferPointer(start: buffer, count: length)
                let line = bytes.prefix { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") }
                if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { continue }
                let value: JSONValue
                do {
                    value = try JSONValue(parsing: Array(line))
                } catch {
                    throw ValidationError("\(file):\(lineNumber): not JSON: \(error)")
                }
                guard let record = value.objectValue else { throw ValidationError("\(file):\(lineNumber): not a JSON object") }
                return record
            }
        }
        if reading.hasShown { reading.finish(done: Int64(ftello(handle))) }
        print("imported \(imported) records into \(table)")
        guard let server, let space, let token else { return }
        let stored = try await store.metadata(.refreshToken)
        let transport = HTTPTransport(
            configuration: HTTPTransportConfiguration(
                baseURL: server,
                accessToken: token,
                refreshToken: refreshToken ?? stored,
                onTokensRefreshed: { pair in try? await store.setMetadata(pair.refreshToken, for: .refreshToken) }
            )
        )
        let engine = SyncEngine(store: store, transport: transport, space: space)
        var report = SyncEngine.Report()
        let pending = Int64(try await store.counts().pending)
        let pushing = ProgressReporter.standardError(label: "push \(space)", unit: "mutations", total: pending)
        do {
            try await engine.pushBulk(into: &report) { pushing.update(done: Int64($0)) }
            let bulk = Int64(report.pushed + report.rejected)
            try await engine.push(into: &report) { pushing.update(done: bulk + Int64($0)) }
        } catch {
            try? await transport.shutdown()
            throw error
        }
        try await transport.shutdown()
        if pushing.hasShown { pushing.finish(done: Int64(report.pushed + report.rejected)) }
        let counts = try await store.counts()
        print("pushed \(report.pushed) in \(report.bulkChunks) bulk chunks, rejected \(report.rejected); pending \(counts.pending)")
    }
}
