import FerryCore
import FerryTestKit
import Testing

@testable import FerryServer

/// The PostgreSQL backend's retries run on its injected clock: while the database cannot be
/// reached, each migration attempt is cut off by the operation deadline and followed by a
/// pause from its backoff policy, and nothing answers before the schema is migrated.
@Suite(.timeLimit(.minutes(1)))
struct PostgresRetryTests {
    @Test func migrationIsRetriedWithGrowingPausesWhileTheDatabaseIsUnreachable() async throws {
        let clock = TestClock()
        // Port 1 on loopback: nothing listens there, so no connection is ever made.
        let backend = try PostgresBackend(
            configuration: .init(
                url: "postgresql://postgres@127.0.0.1:1/ferry",
                operationTimeout: .seconds(5),
                retry: BackoffPolicy(base: .milliseconds(200), maximum: .milliseconds(500), jitter: 0)
            ),
            clock: clock
        )
        await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await backend.run() }
            defer { group.cancelAll() }
            for pause in [Duration.milliseconds(200), .milliseconds(400), .milliseconds(500), .milliseconds(500)] {
                // An attempt: cut off by the operation deadline...
                await clock.waitForSleeper(until: clock.now.advanced(by: .seconds(5)))
                clock.advance(by: .seconds(5))
                // ...then a pause of the policy's length before the next one.
                await clock.waitForSleeper(until: clock.now.advanced(by: pause))
                #expect(clock.sleeperDeadlines == [clock.now.advanced(by: pause)])
                let refused = await #expect(throws: FerryError.self) {
                    try await backend.perform { _ in 1 }
                }
                #expect(refused?.code == .unavailable)
                clock.advance(by: pause)
            }
        }
    }
}
