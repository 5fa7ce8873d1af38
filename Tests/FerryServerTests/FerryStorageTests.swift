import FerryCore
import FerryServer
import FerryTestSupport
import Foundation
import Logging
import Testing

private let quiet: Logger = {
    var logger = Logger(label: "ferry-test")
    logger.logLevel = .error
    return logger
}()

private func note(_ id: Int64) -> AppendBatch {
    AppendBatch(
        space: "default",
        deviceID: "dev-a",
        sessionID: "s1",
        mutations: [
            NewMutation(
                clientActionID: id,
                entity: "note",
                entityKey: "k\(id)",
                op: .upsert,
                payload: JSONValue.object(["v": .int(id)]).serialized(),
                baseSeq: 0,
                clientTimestamp: nil
            )
        ]
    )
}

/// Opening a server's storage and its first start, as `ferry serve` and an embedding app do.
@Suite struct FerryStorageTests {
    @Test func aFirstStartIssuesATokenOnceAndCreatesTheDefaultSpace() async throws {
        let folder = try TemporaryFolder()
        let configuration = FerryStorage.Configuration.sqlite(SQLiteConfiguration(path: folder.path("ferry.sqlite")))
        let first = try FerryStorage(configuration, logger: quiet)
        let issued = try #require(try await first.bootstrap())
        #expect(issued.spaces == ["default"])
        #expect(try await first.tokens.authenticate(accessToken: issued.accessToken)?.spaces == ["default"])
        _ = try await first.eventLog.append(note(1))

        let second = try FerryStorage(configuration, logger: quiet)
        #expect(try await second.bootstrap() == nil, "only a first start issues a token")
        #expect(try await second.tokens.grants().count == 1)
        #expect(try await second.eventLog.read(space: "default", since: 0, limit: 10, excludingDevice: nil).headSeq == 1)
        #expect(second.services.isEmpty)
        #expect(!configuration.isShared && !configuration.isInMemory)
    }

    @Test func memoryStorageKeepsTokensInItsFileButStartsWithEmptyLogs() async throws {
        let folder = try TemporaryFolder()
        let configuration = FerryStorage.Configuration.memory(tokensAt: SQLiteConfiguration(path: folder.path("ferry.sqlite")))
        #expect(configuration.isInMemory)
        let first = try FerryStorage(configuration, logger: quiet)
        let issued = try #require(try await first.bootstrap())
        _ = try await first.eventLog.append(note(1))
        let before = try await first.eventLog.read(space: "default", since: 0, limit: 10, excludingDevice: nil)
        #expect(before.headSeq == 1)

        let second = try FerryStorage(configuration, logger: quiet)
        #expect(try await second.bootstrap() == nil, "the tokens, in the SQLite file, outlive the process")
        #expect(try await second.tokens.authenticate(accessToken: issued.accessToken) != nil)
        let after = try await second.eventLog.read(space: "default", since: 0, limit: 10, excludingDevice: nil)
        #expect(after.headSeq == 0 && after.mutations.isEmpty, "the log lives in memory")
        #expect(after.logID != before.logID, "a client sees a new log and starts over")
    }

    @Test(.enabled(if: PostgresTestServer.adminURL != nil, "needs the PostgreSQL that scripts/test starts"))
    func sharedPostgresStorageIsNeverBootstrappedAndKeepsItsTokens() async throws {
        try await PostgresTestServer.withDatabase { url in
            let configuration = FerryStorage.Configuration.postgres(url: url)
            #expect(configuration.isShared && configuration.description == "postgres")
            let first = try FerryStorage(configuration, logger: quiet)
            #expect(first.services.count == 1)
            let issued = try await first.whileRunning {
                #expect(try await first.bootstrap() == nil, "several servers may share it: none bootstraps")
                #expect(try await first.tokens.grants().isEmpty)
                _ = try await first.eventLog.append(note(1))
                return try await first.tokens.issue(spaces: ["default"], accessTTL: 60)
            }
            let second = try FerryStorage(configuration, logger: quiet)
            try await second.whileRunning { () async throws -> Void in
                #expect(try await second.tokens.authenticate(accessToken: issued.accessToken) != nil)
                #expect(try await second.eventLog.read(space: "default", since: 0, limit: 10, excludingDevice: nil).headSeq == 1)
            }
        }
    }

    @Test func theEnvironmentChoosesTheStorageAndAFlagWins() throws {
        let environment = FerryEnvironment(["FERRY_DATA": "/srv/ferry", "FERRY_DURABILITY": "normal", "FERRY_MAX_PULL_LIMIT": "100"])
        #expect(try environment.storage(data: nil, durability: nil, postgres: nil).description == "sqlite: /srv/ferry/ferry.sqlite")
        #expect(
            try environment.storage(data: "/d", durability: nil, postgres: nil, memory: true).description
                == "memory, tokens: /d/ferry.sqlite"
        )
        #expect(try environment.storage(data: nil, durability: nil, postgres: "postgresql://u@h/db").isShared)
        #expect(try environment.serverConfiguration().maxPullLimit == 100)
        #expect(try environment.serverConfiguration(maxPullLimit: 7).maxPullLimit == 7)
        #expect(throws: ConfigurationError.self) {
            try environment.storage(data: nil, durability: nil, postgres: "postgresql://u@h/db", memory: true)
        }
        #expect(throws: ConfigurationError.self) {
            try FerryEnvironment(["FERRY_MAX_WAIT_SECONDS": "soon"]).serverConfiguration()
        }
        #expect(throws: ConfigurationError.self) {
            try environment.storage(data: nil, durability: "sometimes", postgres: nil)
        }
    }
}
