import ArgumentParser
import FerryBench
import FerryServer
import Foundation
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the sync log over HTTP.",
        discussion: """
            On its first start with an empty data folder, creates the space 'default' and prints
            a token for it. SIGINT and SIGTERM stop the server gracefully. Every option can also
            be set by its FERRY_ environment variable; a flag wins over the environment.
            """
    )

    @Option(name: .long, help: "Address to listen on (env FERRY_HOST, default 127.0.0.1).")
    var host: String?

    @Option(name: .long, help: "Port to listen on, 0 for any free port (env FERRY_PORT, default 8080).")
    var port: Int?

    @OptionGroup var storage: StorageOptions

    @Flag(
        name: .long,
        help: "Keep the log in memory, lost at exit (for demos and tests); tokens stay in the data folder (env FERRY_MEMORY)."
    )
    var memory = false

    @Option(name: .long, help: "Largest request body in bytes (env FERRY_MAX_BODY_BYTES, default 8388608).")
    var maxBodyBytes: Int?

    @Option(name: .long, help: "Most mutations in one push (env FERRY_MAX_MUTATIONS_PER_PUSH, default 1000).")
    var maxMutationsPerPush: Int?

    @Option(name: .long, help: "Largest payload of one mutation in bytes (env FERRY_MAX_PAYLOAD_BYTES, default 1048576).")
    var maxPayloadBytes: Int?

    @Option(name: .long, help: "Largest pull page (env FERRY_MAX_PULL_LIMIT, default 5000).")
    var maxPullLimit: Int?

    @Option(name: .long, help: "Longest long-poll wait in seconds (env FERRY_MAX_WAIT_SECONDS, default 60).")
    var maxWaitSeconds: Int?

    @Option(name: .long, help: "Most acks in one POST /sync/ack (env FERRY_MAX_ACKS_PER_REQUEST, default 1000).")
    var maxAcksPerRequest: Int?

    @Option(name: .long, help: "Mutations an event stream reads from the store at a time (env FERRY_STREAM_PAGE_SIZE, default 1000).")
    var streamPageSize: Int?

    @Option(name: .long, help: "Largest bulk push (POST /sync/push) in bytes (env FERRY_BULK_MAX_BYTES, default 67108864).")
    var bulkMaxBytes: Int?

    @Option(name: .long, help: "Most lines in one bulk push (env FERRY_BULK_MAX_LINES, default 100000).")
    var bulkMaxLines: Int?

    @Option(
        name: .long,
        help:
            "Close a connection idle this long, or whose request head or body stopped arriving: 90s, 2m (env FERRY_IDLE_TIMEOUT, default 75s)."
    )
    var idleTimeout: String?

    @Option(name: .long, help: "Largest request line plus header fields in bytes (env FERRY_MAX_HEADER_BYTES, default 16384).")
    var maxHeaderBytes: Int?

    @Option(name: .long, help: "Longest query string in bytes (env FERRY_MAX_QUERY_BYTES, default 8192).")
    var maxQueryBytes: Int?

    @Option(
        name: .long,
        help: "Most long-polls held at once per token grant; more get 429 (env FERRY_MAX_LONG_POLLS_PER_TOKEN, default 16)."
    )
    var maxLongPollsPerToken: Int?

    @Option(name: .long, help: "Most long-polls held at once by this server; more get 429 (env FERRY_MAX_LONG_POLLS, default 4096).")
    var maxLongPolls: Int?

    @Option(
        name: .long,
        help:
            "Build a space's snapshot once its log grew by this many mutations; 0 for on demand only (env FERRY_SNAPSHOT_EVERY, default 50000)."
    )
    var snapshotEvery: Int?

    @Option(name: .long, help: "Most records in one snapshot chunk (env FERRY_SNAPSHOT_CHUNK_RECORDS, default 10000).")
    var snapshotChunkRecords: Int?

    @Option(name: .long, help: "Most bytes in one snapshot chunk (env FERRY_SNAPSHOT_CHUNK_BYTES, default 4194304).")
    var snapshotChunkBytes: Int?

    @Option(
        name: .long,
        help: "How long a replaced snapshot's chunks stay downloadable: 90s, 30m, 1h, 7d (env FERRY_SNAPSHOT_KEEP, default 1h)."
    )
    var snapshotKeep: String?

    @Option(
        name: .long,
        help:
            "Retention: keep at least this many newest mutations per space, prune older ones a snapshot covers (env FERRY_RETAIN_MUTATIONS, default off)."
    )
    var retainMutations: Int?

    @Option(
        name: .long,
        help:
            "Retention: keep the mutations of at least this long, e.g. 7d; prune older ones a snapshot covers (env FERRY_RETAIN_AGE, default off)."
    )
    var retainAge: String?

    @Option(
        name: .long,
        help:
            "gzip answers for clients that ask for it, and accept and advertise gzip request bodies: on or off (env FERRY_COMPRESSION, default on)."
    )
    var compression: String?

    @Option(name: .long, help: "Smallest answer body compressed, in bytes (env FERRY_COMPRESSION_MIN_BYTES, default 1024).")
    var compressionMinBytes: Int?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error (env FERRY_LOG_LEVEL, default info).")
    var logLevel: String?

    @Option(
        name: .customLong("jwt-hs256-secret-file"),
        help: "Accept JWTs signed HS256 with the secret in this file, 32 bytes or more (env FERRY_JWT_HS256_SECRET_FILE)."
    )
    var jwtHS256SecretFile: String?

    @Option(
        name: .long,
        help: "Accept JWTs signed RS256/ES256 with the keys of this JWKS file or http(s) URL (env FERRY_JWKS)."
    )
    var jwks: String?

    @Option(name: .long, help: "The iss a JWT must carry (env FERRY_JWT_ISSUER, default: not checked).")
    var jwtIssuer: String?

    @Option(name: .long, help: "A value the aud of a JWT must hold (env FERRY_JWT_AUDIENCE, default: not checked).")
    var jwtAudience: String?

    @Option(name: .long, help: "The JWT claim listing its spaces (env FERRY_JWT_SPACES_CLAIM, default spaces).")
    var jwtSpacesClaim: String?

    func validate() throws {
        _ = try storage.configuration(memory: memory)
        _ = try jwtConfiguration()
        do {
            _ = try snapshotPolicy()
        } catch let error as ConfigurationError {
            throw ValidationError(error.message)
        }
    }

    private func snapshotPolicy() throws -> SnapshotPolicy {
        try FerryEnvironment().snapshotPolicy(
            every: snapshotEvery,
            chunkRecords: snapshotChunkRecords,
            chunkBytes: snapshotChunkBytes,
            keep: snapshotKeep,
            retainMutations: retainMutations,
            retainAge: retainAge
        )
    }

    /// The JWT verification the options ask for; `nil` for none.
    func jwtConfiguration() throws -> JWTConfiguration? {
        let environment = FerryEnvironment()
        let secretFile = jwtHS256SecretFile ?? environment.value("FERRY_JWT_HS256_SECRET_FILE")
        let jwks = self.jwks ?? environment.value("FERRY_JWKS")
        let issuer = jwtIssuer ?? environment.value("FERRY_JWT_ISSUER")
        let audience = jwtAudience ?? environment.value("FERRY_JWT_AUDIENCE")
        let claim = jwtSpacesClaim ?? environment.value("FERRY_JWT_SPACES_CLAIM") ?? "spaces"
        let keys: JWTConfiguration.Keys
        switch (secretFile, jwks) {
        case (nil, nil):
            guard issuer == nil, audience == nil, jwtSpacesClaim == nil else {
                throw ValidationError("--jwt-issuer, --jwt-audience and --jwt-spaces-claim need --jwt-hs256-secret-file or --jwks")
            }
            return nil
        case (.some, .some):
            throw ValidationError("give --jwt-hs256-secret-file or --jwks, not both")
        case (let path?, nil):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("cannot read the HS256 secret file \(path)")
            }
            var secret = Array(data)
            while let last = secret.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { secret.removeLast() }
            guard secret.count >= 32 else {
                throw ValidationError("the HS256 secret in \(path) is \(secret.count) bytes; use 32 or more")
            }
            keys = .hs256(secret: secret)
        case (nil, let source?):
            keys = source.hasPrefix("https://") || source.hasPrefix("http://") ? .jwksURL(source) : .jwksFile(path: source)
        }
        guard !claim.isEmpty else { throw ValidationError("--jwt-spaces-claim cannot be empty") }
        return JWTConfiguration(keys: keys, issuer: issuer, audience: audience, spacesClaim: claim)
    }

    func run() async throws {
        let environment = FerryEnvironment()
        let levelName = logLevel ?? environment.value("FERRY_LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: levelName) else {
            throw ValidationError("log level must be one of trace, debug, info, notice, warning, error, critical")
        }
        logToStandardError(from: level)
        let logger = Logger(label: "ferry")
        var configuration = try environment.serverConfiguration(
            maxBodyBytes: maxBodyBytes,
            maxMutationsPerPush: maxMutationsPerPush,
            maxPayloadBytes: maxPayloadBytes,
            maxPullLimit: maxPullLimit,
            maxWaitSeconds: maxWaitSeconds,
            maxAcksPerRequest: maxAcksPerRequest,
            streamPageSize: streamPageSize
        )
        try environment.bulkLimits(&configuration, maxBytes: bulkMaxBytes, maxLines: bulkMaxLines)
        try environment.abuseLimits(
            &configuration,
            idleTimeout: idleTimeout,
            maxHeaderBytes: maxHeaderBytes,
            maxQueryBytes: maxQueryBytes,
            maxLongPollsPerToken: maxLongPollsPerToken,
            maxLongPolls: maxLongPolls
        )
        try environment.compression(&configuration, mode: compression, minimumBytes: compressionMinBytes)
        let snapshots = try snapshotPolicy()
        let port = try environment.integer(self.port, "FERRY_PORT", default: 8080)
        let host = self.host ?? environment.value("FERRY_HOST") ?? "127.0.0.1"

        var jwt: JWTAuthenticator?
        if let jwtConfiguration = try jwtConfiguration() {
            let authenticator = await JWTAuthenticator(configuration: jwtConfiguration, logger: logger)
            do {
                try await authenticator.loadKeys()
            } catch {
                // A file must be there at the start; an identity provider may be down a moment.
                if case .jwksURL = jwtConfiguration.keys {
                    logger.warning("the JWKS URL does not answer yet; JWTs are refused until it does")
                } else {
                    throw ValidationError("the JWKS file \(self.jwks ?? FerryEnvironment().value("FERRY_JWKS") ?? "") cannot be used")
                }
            }
            jwt = authenticator
        }

        let metrics = ServerMetrics()
        let storage = try FerryStorage(try self.storage.configuration(memory: memory), metrics: metrics, logger: logger)
        if let issued = try await storage.bootstrap(accessTTL: Token.Create.defaultTTL) {
            print(
                """
                New data folder \(self.storage.dataFolder): created space 'default' and a token for it.
                This is shown once; keep it.
                  access token:  \(issued.accessToken)
                  refresh token: \(issued.refreshToken)
                  expires in:    \(issued.expiresIn) s
                """
            )
        }
        let described =
            storage.configuration.isShared
            ? "postgres" : "\(storage.configuration.isInMemory ? "memory, tokens" : "data"): \(self.storage.dataFolder)"
        try await FerryApplication.serve(
            storage: storage,
            jwt: jwt,
            metrics: metrics,
            configuration: configuration,
            snapshots: snapshots,
            host: host,
            port: port,
            logger: logger
        ) { bound in
            print("Ferry listening on http://\(host):\(bound) (\(described))")
            print("Operator console: http://\(host):\(bound)/console (sign in with a token of 'ferry token create --admin')")
            fflush(nil)  // stdout may be a pipe: flush so that a supervisor sees the line now
        }
        logger.info("ferry stopped")
    }
}
