import FerryCore
import FerryLog
import Synchronization

/// The server and the network of a ``Simulation``: the server's own push and pull over a
/// memory store, token checks by a memory token store, and the faults of the current step.
final class SimulatedNetwork: Sendable {
    /// A mutation's identity: the dedup triple.
    struct Triple: Hashable, Sendable {
        var deviceID: String
        var sessionID: String
        var clientActionID: Int64
    }

    /// A seq a device was told its mutation is stored under, in which log.
    struct Acknowledgement: Sendable {
        var seq: Int64
        var logID: String
    }

    private struct Plan {
        var pushFault: SimulationStep.PushFault?
        var pushFaultAt = 0
        var pushes = 0
        var pullFaultSeed: UInt64?
    }

    private struct State {
        var server: InMemoryTransport
        var plans: [Int: Plan] = [:]
        var delayed: [PushRequest] = []
        var acknowledged: [Triple: Acknowledgement] = [:]
        var faultsHit = 0
    }

    let space: String
    let eventLog: MemoryEventLog
    let tokens: MemoryTokenStore
    private let state: Mutex<State>

    init(space: String, clock: WallClock) {
        self.space = space
        eventLog = MemoryEventLog(clock: clock)
        tokens = MemoryTokenStore(clock: clock)
        state = Mutex(State(server: InMemoryTransport(eventLog: eventLog)))
    }

    /// The server now (a new one after each restart).
    var server: InMemoryTransport { state.withLock { $0.server } }

    /// Restarts the server on the same store.
    func restartServer() {
        state.withLock { $0.server = InMemoryTransport(eventLog: eventLog) }
    }

    /// Sets the faults of `device`'s next sync.
    func plan(device: Int, pushFault: SimulationStep.PushFault?, at: Int, pullFaultSeed: UInt64?) {
        state.withLock { $0.plans[device] = Plan(pushFault: pushFault, pushFaultAt: at, pullFaultSeed: pullFaultSeed) }
    }

    /// Clears `device`'s faults.
    func clearPlan(device: Int) {
        state.withLock { $0.plans[device] = nil }
    }

    /// Push requests held by the network.
    var delayedCount: Int { state.withLock { $0.delayed.count } }

    /// Faults that struck a request so far.
    var faultsHit: Int { state.withLock { $0.faultsHit } }

    /// Every acknowledgement a device received.
    var acknowledged: [Triple: Acknowledgement] { state.withLock { $0.acknowledged } }

    /// Drops every held push: the connections that carried them went to a server that is
    /// gone (a log recreated from an empty backup is a new server).
    func dropDelayed() {
        state.withLock { $0.delayed = [] }
    }

    /// Delivers the oldest held push to the server (its answer goes nowhere).
    func deliverDelayed() async throws {
        guard let request = state.withLock({ $0.delayed.isEmpty ? nil : $0.delayed.removeFirst() }) else { return }
        _ = try await server.push(request)
    }

    func nextPushFault(device: Int) -> SimulationStep.PushFault? {
        state.withLock { state in
            guard var plan = state.plans[device] else { return nil }
            defer { plan.pushes += 1; state.plans[device] = plan }
            guard plan.pushes == plan.pushFaultAt, let fault = plan.pushFault else { return nil }
            state.faultsHit += 1
            return fault
        }
    }

    /// Whether a pull of `device` from `since` fails, and how: `true` when the server
    /// answers first (the answer is lost), `false` when the request is lost; `nil` for no
    /// fault. A pure function of the step's seed and `since`.
    func pullFault(device: Int, since: Int64) -> Bool? {
        state.withLock { state in
            guard let seed = state.plans[device]?.pullFaultSeed else { return nil }
            var generator = SeededGenerator(seed: seed ^ UInt64(bitPattern: since &* 0x5851_F42D))
            let roll = generator.next()
            guard roll % 3 == 0 else { return nil }
            state.faultsHit += 1
            return roll & 8 == 0
        }
    }

    /// What happens to a download of snapshot chunk `id` by `device`: `nil` for nothing,
    /// `true` when its body arrives with a byte changed, `false` when the answer is lost. A
    /// pure function of the step's seed and the chunk.
    func chunkFault(device: Int, id: String) -> Bool? {
        state.withLock { state in
            guard let seed = state.plans[device]?.pullFaultSeed else { return nil }
            var generator = SeededGenerator(seed: id.utf8.reduce(seed) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 })
            let roll = generator.next()
            guard roll % 3 == 0 else { return nil }
            state.faultsHit += 1
            return roll & 8 == 0
        }
    }

    /// Counts a fault struck elsewhere (a stream acknowledgement).
    func countFault() {
        state.withLock { $0.faultsHit += 1 }
    }

    func hold(_ request: PushRequest) {
        state.withLock { $0.delayed.append(request) }
    }

    /// Notes the seqs `response` told a device its mutations have.
    func record(_ response: PushResponse, for request: PushRequest) {
        state.withLock { state in
            func note(_ clientActionID: Int64, _ seq: Int64) {
                let triple = Triple(deviceID: request.deviceID, sessionID: request.sessionID, clientActionID: clientActionID)
                state.acknowledged[triple] = Acknowledgement(seq: seq, logID: response.logID)
            }
            for ack in response.acks { note(ack.clientActionID, ack.seq) }
            for rejection in response.rejected where rejection.reason == .duplicate {
                if let seq = rejection.seq { note(rejection.clientActionID, seq) }
            }
        }
    }
}

/// Holds one device's tokens and refreshes them one at a time, as `HTTPTransport` does.
actor SimulatedCredentials {
    private var access: String
    private var refreshToken: String
    private var refreshing: Task<IssuedTokens?, any Error>?

    init(_ issued: IssuedTokens) {
        access = issued.accessToken
        refreshToken = issued.refreshToken
    }

    /// The access token now.
    var accessToken: String { access }

    /// Spends the refresh token once for a rejected `stale` access token; callers that come
    /// while it is being spent wait for the same answer. `nil` when the store refused it.
    func refreshed(after stale: String, tokens: MemoryTokenStore) async throws -> String? {
        if access != stale { return access }
        let task: Task<IssuedTokens?, any Error>
        if let refreshing {
            task = refreshing
        } else {
            let spent = refreshToken
            task = Task { try await tokens.refresh(refreshToken: spent) }
            refreshing = task
        }
        let issued = try await task.value
        if refreshing == task {
            refreshing = nil
            if let issued {
                access = issued.accessToken
                refreshToken = issued.refreshToken
            }
        }
        return issued?.accessToken
    }
}

/// One device's way to the simulated server: checks its token, then carries its requests
/// through the faults of the current step.
struct SimulatedLink: SyncTransport {
    let network: SimulatedNetwork
    let device: Int
    let credentials: SimulatedCredentials

    private func authorize(_ space: String) async throws {
        let access = await credentials.accessToken
        var scope = try await network.tokens.authenticate(accessToken: access)
        if scope == nil, let renewed = try await credentials.refreshed(after: access, tokens: network.tokens) {
            scope = try await network.tokens.authenticate(accessToken: renewed)
        }
        guard let scope else { throw SyncTransportError(.authRequired, "the token was refused and could not be refreshed", status: 401) }
        guard scope.allows(space) else { throw SyncTransportError(.policyForbidden, "the token does not grant \(space)", status: 403) }
    }

    private static func lost(_ what: String) -> SyncTransportError {
        SyncTransportError(.transient, "simulated network: \(what)")
    }

    func push(_ request: PushRequest) async throws -> PushResponse {
        try await authorize(request.space)
        let server = network.server
        switch network.nextPushFault(device: device) {
        case .loseRequest:
            throw Self.lost("the push was lost on its way")
        case .delayRequest:
            network.hold(request)
            throw Self.lost("the push is held up in the network")
        case .loseAnswer:
            _ = try await server.push(request)
            throw Self.lost("the push's answer was lost")
        case .duplicate(let secondAnswer):
            let first = try await server.push(request)
            let second = try await server.push(request)
            let answer = secondAnswer ? second : first
            network.record(answer, for: request)
            return answer
        case nil:
            let answer = try await server.push(request)
            network.record(answer, for: request)
            return answer
        }
    }

    func manifest(space: String) async throws -> SnapshotManifest {
        try await authorize(space)
        return try await network.server.manifest(space: space)
    }

    func chunk(id: String) async throws -> [UInt8] {
        try await authorize(network.space)
        var body = try await network.server.chunk(id: id)
        switch network.chunkFault(device: device, id: id) {
        case true?:
            if body.isEmpty { body = [0x0A] } else { body[body.count / 2] ^= 0x20 }
        case false?:
            throw Self.lost("the chunk's answer was lost")
        case nil:
            break
        }
        return body
    }

    func pull(space: String, since: Int64, limit: Int?, excludeDevice: String?, wait: Duration?) async throws -> PullResponse {
        try await authorize(space)
        let server = network.server
        switch network.pullFault(device: device, since: since) {
        case true?:
            _ = try await server.pull(space: space, since: since, limit: limit, excludeDevice: excludeDevice, wait: nil)
            throw Self.lost("the pull's answer was lost")
        case false?:
            throw Self.lost("the pull was lost on its way")
        case nil:
            return try await server.pull(space: space, since: since, limit: limit, excludeDevice: excludeDevice, wait: wait)
        }
    }
}
