import ArgumentParser
import AsyncHTTPClient
import FerryClient
import FerryCore
import FerryHTTP
import Foundation

struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a database's sync setup, and with --server its server, token and clock.",
        discussion: """
            Reads the database without changing it: the capture triggers of every tracked \
            table against the table's current columns, the outbox, dead letters, open \
            conflicts, the sync lease and the last sync of each space. With --server and \
            --token: the server answers, the token is valid for the space (a pull of one \
            mutation), and the local clock is within 5 s of the server's Date header. \
            Prints a table (check, status, detail, fix); exits 1 when a check fails \
            (warnings exit 0).
            """
    )

    @Option(name: .long, help: "The app's SQLite database.")
    var db: String

    @Option(name: .long, help: "The server's URL, e.g. http://127.0.0.1:8080.")
    var server: String?

    @Option(name: .long, help: "With --server: the access token to check.")
    var token: String?

    @Option(name: .long, help: "With --server: the space (default: the one the database syncs with).")
    var space: String?

    @Option(name: .long, help: "With --server: the clock skew, in seconds, above which the doctor warns (default 5).")
    var maxSkew: Int = 5

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    func validate() throws {
        if server != nil && token == nil { throw ValidationError("--server needs --token") }
        if token != nil && server == nil { throw ValidationError("--token needs --server") }
        if let space, !ProtocolRules.isValidSpace(space) { throw ValidationError("'\(space)' is not a space name") }
        guard maxSkew >= 0 else { throw ValidationError("--max-skew must not be negative") }
    }

    func run() async throws {
        var diagnosis: Diagnosis
        do {
            diagnosis = try LocalStore.diagnose(databaseAt: db)
        } catch let error as LocalStoreError where error.code == .noDatabase {
            throw ValidationError(error.message)
        }
        if let server, let token {
            guard let space = space ?? (diagnosis.spaces.count == 1 ? diagnosis.spaces[0] : nil) else {
                throw ValidationError(
                    diagnosis.spaces.isEmpty
                        ? "the database has not synced yet: name the space with --space"
                        : "the database syncs with \(diagnosis.spaces.joined(separator: ", ")): name one with --space"
                )
            }
            // A client of its own that does not retry a refused connection: a server that is
            // down fails the check at once.
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool.retryConnectionEstablishment = false
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            let probe = await ServerProbe.pull(baseURL: server, accessToken: token, space: space, client: client)
            try? await client.shutdown()
            let observation = Diagnosis.ServerObservation(
                server: server,
                failure: probe.failure,
                status: probe.status,
                errorCode: probe.errorCode,
                dateHeader: probe.dateHeader,
                localMilliseconds: probe.localMilliseconds
            )
            diagnosis.checks += Diagnosis.serverChecks(observation, space: space, skewLimit: .seconds(maxSkew))
        }
        if json {
            try printJSON(DoctorReport(status: diagnosis.status, checks: diagnosis.checks))
        } else {
            var table = TextTable(header: ["CHECK", "STATUS", "DETAIL", "FIX"])
            for check in diagnosis.checks {
                table.rows.append([check.name, check.status.rawValue, check.detail, check.fix ?? ""])
            }
            print(table.render())
        }
        if diagnosis.hasFailures { throw ExitCode(1) }
    }

    /// The JSON output: the worst status and the checks.
    struct DoctorReport: Encodable {
        var status: DiagnosisCheck.Status
        var checks: [DiagnosisCheck]
    }
}
