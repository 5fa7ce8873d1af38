import FerryCore
import FerryServer
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing

/// Every log line a logger made, rendered with its metadata, for a test to search.
final class CapturedLog: Sendable {
    private let lines = Mutex<[String]>([])

    /// All the lines so far.
    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    /// A logger at `trace` that records into this log.
    func logger() -> Logger {
        var logger = Logger(label: "ferry-test") { _ in Handler(log: self) }
        logger.logLevel = .trace
        return logger
    }

    fileprivate func append(_ line: String) { lines.withLock { $0.append(line) } }

    private struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        var metadataProvider: Logger.MetadataProvider?

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            log.append(
                "\(event.level) \(event.message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"
            )
        }
    }
}

/// Refused credentials are counted on `/metrics` by reason and logged, never with the secret.
@Suite struct AuthFailureTests {
    @Test func refusalsAreCountedByReasonAndLoggedWithoutTheSecret() async throws {
        let log = CapturedLog()
        let tokens = MemoryTokenStore()
        let app = FerryApplication.makeApplication(
            eventLog: MemoryEventLog(),
            tokens: tokens,
            metrics: ServerMetrics(),
            configuration: ServerConfiguration(),
            serverConfiguration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            logger: log.logger()
        )
        let valid = try await tokens.issue(spaces: ["mine"], accessTTL: 3600)
        let unknownAccess = "fat_ThisIsNotAKnownTokenButASecretAllTheSame0001"
        let unknownRefresh = "frt_ARefreshSecretThatMustNeverBeLogged000002"
        try await app.test(.live) { client in
            func get(_ path: String, _ authorization: String?) async throws -> TestResponse {
                var headers = HTTPFields()
                if let authorization { headers[.authorization] = authorization }
                return try await client.executeRequest(uri: path, method: .get, headers: headers, body: nil)
            }
            #expect(try await get("/sync/mutations/pull?space=mine&since_seq=0", nil).status == .unauthorized)
            #expect(try await get("/sync/mutations/pull?space=mine&since_seq=0", "Basic \(unknownAccess)").status == .unauthorized)
            #expect(try await get("/sync/mutations/pull?space=mine&since_seq=0", "Bearer \(unknownAccess)").status == .unauthorized)
            #expect(try await get("/sync/mutations/pull?space=mine&since_seq=0", "Bearer \(unknownAccess)").status == .unauthorized)
            #expect(try await get("/sync/mutations/pull?space=theirs&since_seq=0", "Bearer \(valid.accessToken)").status == .forbidden)
            #expect(try await get("/sync/mutations/pull?space=mine&since_seq=0", "Bearer \(valid.accessToken)").status == .ok)
            let refresh = try await client.executeRequest(
                uri: "/auth/refresh",
                method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"refresh_token":"\#(unknownRefresh)"}"#)
            )
            #expect(refresh.status == .unauthorized)

            let metrics = String(buffer: try await get("/metrics", nil).body)
            #expect(metrics.contains(#"ferry_auth_failures_total{reason="missing"} 1"#))
            #expect(metrics.contains(#"ferry_auth_failures_total{reason="malformed"} 1"#))
            #expect(metrics.contains(#"ferry_auth_failures_total{reason="invalid"} 2"#))
            #expect(metrics.contains(#"ferry_auth_failures_total{reason="forbidden"} 1"#))
            #expect(metrics.contains(#"ferry_auth_failures_total{reason="refresh_invalid"} 1"#))
        }
        let text = log.text
        let refusals = text.split(separator: "\n").filter { $0.contains("authentication refused") }
        #expect(refusals.count == 6, "\(text)")
        #expect(refusals.contains { $0.contains("ferry.auth.reason=forbidden") && $0.contains("ferry.grant=\(valid.grantID)") })
        #expect(refusals.contains { $0.contains("ferry.auth.reason=invalid") && $0.contains("ferry.token_sha256=") })
        for secret in [unknownAccess, unknownRefresh, valid.accessToken, valid.refreshToken] {
            #expect(!text.contains(secret), "the log holds a secret")
            // Nor a long piece of it.
            #expect(!text.contains(String(secret.dropFirst(4).prefix(16))), "the log holds part of a secret")
        }
    }
}
