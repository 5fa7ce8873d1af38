import FerryClient
import FerryCore
import FerryTestKit
import FerryTestSupport
import Foundation
import Testing

/// Runs `body` with a `ferry serve` process on an SQLite folder, a token for space `notes`,
/// and a ``FaultProxy`` in front of it; stops both afterwards, even on failure.
private func withProxiedServer(
    plan: FaultPlan = .none,
    _ body: (ServerProcess, FaultProxy, String, TemporaryFolder) async throws -> Void
) async throws {
    let folder = try TemporaryFolder()
    let data = folder.path("server")
    let server = try await ServerProcess(arguments: ["--data", data])
    do {
        let token = try createToken(["--data", data])
        try await FaultProxy.with(upstreamPort: server.port, plan: plan) { proxy in
            try await body(server, proxy, token, folder)
        }
    } catch {
        await server.stop()
        throw error
    }
    await server.stop()
}

/// Runs `body` with `devices`, closing them afterwards, even on failure.
private func withDevices<T: Sendable>(_ devices: [FaultDevice], _ body: () async throws -> T) async throws -> T {
    do {
        let result = try await body()
        for device in devices { await device.close() }
        return result
    } catch {
        for device in devices { await device.close() }
        throw error
    }
}

/// Runs `operation`, failing with a message instead of hanging when it takes longer than
/// `limit`; answers its result and how long it took.
private func bounded<T: Sendable>(
    _ limit: Duration,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> (Result<T, any Error>, Duration) {
    let start = ContinuousClock.now
    let result = await withTaskGroup(of: Result<T, any Error>?.self) { group in
        group.addTask {
            do { return .success(try await operation()) } catch { return .failure(error) }
        }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first ?? .failure(ProcessError(message: "still running after \(limit)"))
    }
    return (result, ContinuousClock.now - start)
}

/// Whether `result` failed with a transient transport error.
private func failedTransiently<T>(_ result: Result<T, any Error>) -> Bool {
    guard case .failure(let error) = result, let transport = error as? SyncTransportError else { return false }
    return transport.kind == .transient
}

/// Real clients (`HTTPTransport` and `SyncEngine` in-process) and a real `ferry serve`
/// process, through a proxy that injects one kind of network fault: nothing is lost, nothing
/// stored twice, and no call outlives its timeout.
@Suite(.serialized, .tags(.realTime)) struct FaultProxyTests {
    @Test func aConnectionResetBeforeTheRequestStoresNothingAndTheRetryConverges() async throws {
        try await withProxiedServer(plan: .script([.resetBeforeRequest], onlyFor: "/sync/mutations/push")) { server, proxy, token, folder in
            let ledger = AckLedger()
            let device = try FaultDevice("a", folder: folder, baseURL: proxy.baseURL, token: token, ledger: ledger)
            try await withDevices([device]) {
                try device.insert(0..<10)
                let (first, _) = try await bounded(.seconds(30)) { try await device.engine.sync() }
                #expect(failedTransiently(first), "\(first)")
                let struck = proxy.records.filter(\.struck)
                #expect(struck.count == 1 && struck.first?.fault == .resetBeforeRequest && struck.first?.requestBytes == 0)
                #expect(try await serverLog(server.baseURL, token: token).isEmpty)
                #expect(try await device.pending() == 10)

                try await device.syncUntilClean(before: .now + .seconds(30))
                expectLogIsExact(try await serverLog(server.baseURL, token: token), writes: 10, ledger: ledger, "reset")
            }
        }
    }

    @Test func aDroppedPushAnswerStoresOnceAndTheRetryIsAnsweredAsDuplicates() async throws {
        try await withProxiedServer(plan: .script([.dropAnswer], onlyFor: "/sync/mutations/push")) { server, proxy, token, folder in
            let ledger = AckLedger()
            let device = try FaultDevice("a", folder: folder, baseURL: proxy.baseURL, token: token, ledger: ledger)
            try await withDevices([device]) {
                try device.insert(0..<10)
                let (first, _) = try await bounded(.seconds(30)) { try await device.engine.sync() }
                #expect(failedTransiently(first), "\(first)")
                #expect(proxy.records.contains { $0.fault == .dropAnswer && $0.struck && $0.requestBytes > 0 && $0.forwardedBytes == 0 })
                // The server stored the batch; the device, never told, still holds it.
                #expect(try await serverLog(server.baseURL, token: token).count == 10)
                #expect(try await device.pending() == 10)

                try await device.syncUntilClean(before: .now + .seconds(30))
                expectLogIsExact(try await serverLog(server.baseURL, token: token), writes: 10, ledger: ledger, "dropped answer")
            }
        }
    }

    @Test func aTruncatedPullBodyAppliesNothingAndTheRetryAppliesEachMutationOnce() async throws {
        try await withProxiedServer(plan: .script([.truncateBody(keeping: 300)], onlyFor: "/sync/mutations/pull")) {
            server,
            proxy,
            token,
            folder in
            let ledger = AckLedger()
            let writer = try FaultDevice("w", folder: folder, baseURL: server.baseURL, token: token, ledger: ledger)
            let reader = try FaultDevice("r", folder: folder, baseURL: proxy.baseURL, token: token, ledger: ledger)
            try await withDevices([writer, reader]) {
                try writer.insert(0..<30)
                try await writer.syncUntilClean(before: .now + .seconds(30))
                let (first, _) = try await bounded(.seconds(30)) { try await reader.engine.sync() }
                #expect(failedTransiently(first), "\(first)")
                #expect(proxy.records.contains { $0.fault == .truncateBody(keeping: 300) && $0.struck })
                #expect(try await reader.cursor() == 0)
                #expect(try reader.rows().isEmpty)

                let (second, _) = try await bounded(.seconds(30)) { try await reader.engine.sync() }
                #expect(try second.get().pulled == 30)
                #expect(try reader.rows() == writer.rows())
                #expect(try await reader.cursor() == 30)
                expectLogIsExact(try await serverLog(server.baseURL, token: token), writes: 30, ledger: ledger, "truncated body")
            }
        }
    }

    @Test func latencyOnEveryConnectionSlowsTheSyncButLosesNothing() async throws {
        try await withProxiedServer(plan: .script([], then: .latency(.milliseconds(200)))) { server, proxy, token, folder in
            let ledger = AckLedger()
            let a = try FaultDevice("a", folder: folder, baseURL: proxy.baseURL, token: token, ledger: ledger)
            let b = try FaultDevice("b", folder: folder, baseURL: proxy.baseURL, token: token, ledger: ledger)
            try await withDevices([a, b]) {
                try a.insert(0..<25)
                try b.insert(0..<15)
                let start = ContinuousClock.now
                _ = try await a.engine.sync()
                _ = try await b.engine.sync()
                _ = try await a.engine.sync()
                let elapsed = ContinuousClock.now - start
                // Two pushes of a (20 + 5), one of b, and at least one pull each: every
                // request waits 200 ms each way.
                #expect(elapsed >= .milliseconds(400 * 6), "took \(elapsed)")
                #expect(proxy.records.filter(\.struck).count >= 6)
                #expect(try await a.pending() == 0)
                #expect(try await b.pending() == 0)
                #expect(try a.rows() == b.rows())
                #expect(try a.rows().count == 40)
                expectLogIsExact(try await serverLog(server.baseURL, token: token), writes: 40, ledger: ledger, "latency")
            }
        }
    }

    @Test func aServerThatNeverAnswersFailsThePushWithinTheRequestTimeout() async throws {
        try await withProxiedServer(plan: .script([.stallBeforeAnswer], onlyFor: "/sync/mutations/push")) { server, proxy, token, folder in
            let ledger = AckLedger()
            let device = try FaultDevice(
                "a",
                folder: folder,
                baseURL: proxy.baseURL,
                token: token,
                ledger: ledger,
                requestTimeout: .seconds(1)
            )
            try await withDevices([device]) {
                try device.insert(0..<5)
                let (first, elapsed) = try await bounded(.seconds(30)) { try await device.engine.sync() }
                #expect(failedTransiently(first), "\(first)")
                #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(5), "gave up after \(elapsed)")
                #expect(proxy.records.contains { $0.fault == .stallBeforeAnswer && $0.struck })
                #expect(try await serverLog(server.baseURL, token: token).isEmpty)

                try await device.syncUntilClean(before: .now + .seconds(30))
                expectLogIsExact(try await serverLog(server.baseURL, token: token), writes: 5, ledger: ledger, "stalled server")
            }
        }
    }

    /// Regression: the request timeout ended when the answer's head arrived, so a server that
    /// stalled mid-body held a push or a pull forever.
    @Test(arguments: ["/sync/mutations/pull", "/sync/mutations/push"])
    func aServerStalledMidAnswerFailsTheCallWithinTheRequestTimeout(path: String) async throws {
        try await withProxiedServer(plan: .script([.stallBody(keeping: 10)], onlyFor: path)) { server, proxy, token, folder in
            let ledger = AckLedger()
            let writer = try FaultDevice("w", folder: folder, baseURL: server.baseURL, token: token, ledger: ledger)
            let device = try FaultDevice(
                "a",
                folder: folder,
                baseURL: proxy.baseURL,
                token: token,
                ledger: ledger,
                requestTimeout: .seconds(1)
            )
            try await withDevices([writer, device]) {
                try writer.insert(0..<30)
                try await writer.syncUntilClean(before: .now + .seconds(30))
                try device.insert(0..<5)
                let (first, elapsed) = try await bounded(.seconds(20)) { try await device.engine.sync() }
                #expect(failedTransiently(first), "\(first)")
                #expect(elapsed < .seconds(5), "gave up after \(elapsed)")
                #expect(proxy.records.contains { $0.fault == .stallBody(keeping: 10) && $0.struck && $0.request.contains(path) })

                try await device.syncUntilClean(before: .now + .seconds(30))
                try await writer.syncUntilClean(before: .now + .seconds(30))
                #expect(try device.rows() == writer.rows())
                #expect(try device.rows().count == 35)
                expectLogIsExact(try await serverLog(server.baseURL, token: token), writes: 35, ledger: ledger, "stalled body on \(path)")
            }
        }
    }

    /// Four devices push and pull through a proxy whose faults are drawn from a seeded
    /// generator, until every outbox is empty and every device holds the server's replay.
    @Test func aSeededRandomScheduleOfFaultsConverges() async throws {
        let seed = ProcessInfo.processInfo.environment["FERRY_FAULT_SEED"].flatMap(UInt64.init) ?? 0x5EED_F417
        let faults: [(fault: ProxyFault, weight: Int)] = [
            (.none, 10), (.resetBeforeRequest, 2), (.dropAnswer, 2), (.truncateBody(keeping: 40), 2),
            (.latency(.milliseconds(30)), 2), (.stallBeforeAnswer, 1), (.stallBody(keeping: 20), 1),
        ]
        // Every kind strikes at least once, whatever the seed: one of each comes first.
        try await withProxiedServer(plan: .random(seed: seed, faults, first: faults.map(\.fault).filter { $0 != .none })) {
            server,
            proxy,
            token,
            folder in
            let ledger = AckLedger()
            let devices = try (0..<4).map {
                try FaultDevice(
                    "d\($0)",
                    folder: folder,
                    baseURL: proxy.baseURL,
                    token: token,
                    ledger: ledger,
                    requestTimeout: .milliseconds(700)
                )
            }
            let rounds = 6
            let perRound = 7
            try await withDevices(devices) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for device in devices {
                        group.addTask {
                            for round in 0..<rounds {
                                try device.insert((round * perRound)..<((round + 1) * perRound))
                                _ = try? await device.engine.sync()
                            }
                            try await device.syncUntilClean(before: .now + .seconds(90))
                        }
                    }
                    try await group.waitForAll()
                }
                // Everyone pushed everything: one more clean pull each brings the others' rows.
                for device in devices { try await device.syncUntilClean(before: .now + .seconds(60)) }
                let records = proxy.records
                let context = "seed \(seed), \(records.count) connections, \(records.filter(\.struck).count) faults struck"
                let struckKinds = Set(records.filter(\.struck).map(\.fault.kind))
                #expect(struckKinds.count >= 5, "kinds struck: \(struckKinds) (\(context))")
                let log = try await serverLog(server.baseURL, token: token)
                expectLogIsExact(log, writes: devices.count * rounds * perRound, ledger: ledger, context)
                let replay = try await replayRows(server.baseURL, token: token, folder: folder)
                #expect(replay.count == devices.count * rounds * perRound, "\(context)")
                for device in devices {
                    #expect(try await device.pending() == 0, "\(device.name) (\(context))")
                    #expect(try device.rows() == replay, "\(device.name) differs from the replay (\(context))")
                    #expect(try await device.cursor() == Int64(log.count), "\(device.name) (\(context))")
                }
            }
        }
    }
}
