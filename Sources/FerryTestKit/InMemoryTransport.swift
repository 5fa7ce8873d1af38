import FerryCore
import Foundation
import Synchronization

/// A Ferry server in memory, reached without a network: for unit tests of sync code.
///
/// It keeps the protocol's promises like the real server: dense seqs per space, the dedup
/// triple, conflict reports against other devices' latest writes, `exclude_device`,
/// `has_more`, `409 cursor_ahead`. It does not validate mutations or check tokens.
public final class InMemoryTransport: SyncTransport {
    private struct SpaceLog {
        var logID = UUID().uuidString.lowercased()
        var mutations: [LoggedMutation] = []
        var triples: [String: Int64] = [:]
        /// Per record: latest seq, its device, latest seq of any other device.
        var heads: [String: RecordHead] = [:]
    }

    private let spaces = Mutex<[String: SpaceLog]>([:])
    private let calls = Mutex<(push: Int, pull: Int)>((0, 0))
    private let clock: WallClock

    /// Creates an empty server.
    public init(clock: WallClock = .system) {
        self.clock = clock
    }

    /// How many pushes and pulls were answered.
    public var callCounts: (push: Int, pull: Int) { calls.withLock { $0 } }

    /// Every mutation of `space`, in seq order.
    public func log(of space: String) -> [LoggedMutation] {
        spaces.withLock { $0[space]?.mutations ?? [] }
    }

    /// Forgets `space`'s log: the next request recreates it with a new `log_id`, as a server
    /// restored from an empty backup would.
    public func wipe(space: String) {
        _ = spaces.withLock { $0.removeValue(forKey: space) }
    }

    public func push(_ request: PushRequest) async throws -> PushResponse {
        calls.withLock { $0.push += 1 }
        let now = RFC3339.format(millisecondsSince1970: clock.nowMilliseconds())
        return spaces.withLock { spaces in
            var log = spaces[request.space] ?? SpaceLog()
            var acks: [MutationAck] = []
            var rejected: [MutationRejection] = []
            var conflicts: [ConflictReport] = []
            for mutation in request.mutations {
                let triple = "\(request.deviceID)\u{0}\(request.sessionID)\u{0}\(mutation.clientActionID)"
                if let seq = log.triples[triple] {
                    rejected.append(MutationRejection(clientActionID: mutation.clientActionID, reason: .duplicate, seq: seq))
                    continue
                }
                let seq = Int64(log.mutations.count + 1)
                log.triples[triple] = seq
                let record = "\(mutation.entity)\u{0}\(mutation.entityKey)"
                if let conflict = RecordHead.conflict(
                    clientActionID: mutation.clientActionID,
                    entity: mutation.entity,
                    entityKey: mutation.entityKey,
                    baseSeq: mutation.baseSeq,
                    by: request.deviceID,
                    head: log.heads[record]
                ) {
                    conflicts.append(conflict)
                }
                log.heads[record] = RecordHead.after(log.heads[record], write: seq, by: request.deviceID)
                log.mutations.append(
                    LoggedMutation(
                        seq: seq,
                        deviceID: request.deviceID,
                        sessionID: request.sessionID,
                        clientActionID: mutation.clientActionID,
                        entity: mutation.entity,
                        entityKey: mutation.entityKey,
                        op: mutation.op,
                        payload: mutation.payload,
                        baseSeq: mutation.baseSeq,
                        clientTimestamp: mutation.clientTimestamp,
                        occurredAt: now
                    )
                )
                acks.append(MutationAck(clientActionID: mutation.clientActionID, seq: seq))
            }
            spaces[request.space] = log
            return PushResponse(
                accepted: acks.count,
                acks: acks,
                rejected: rejected,
                conflicts: conflicts,
                headSeq: Int64(log.mutations.count),
                logID: log.logID
            )
        }
    }

    public func pull(
        space: String,
        since: Int64,
        limit: Int?,
        excludeDevice: String?,
        wait: Duration?
    ) async throws
        -> PullResponse
    {
        calls.withLock { $0.pull += 1 }
        return try spaces.withLock { spaces in
            let log = spaces[space] ?? SpaceLog()
            spaces[space] = log
            let head = Int64(log.mutations.count)
            guard since <= head else {
                throw SyncTransportError(.cursorAhead, "since_seq \(since) is above the head \(head)", status: 409, code: .cursorAhead)
            }
            let limit = min(limit ?? 500, 5000)
            var page: [LoggedMutation] = []
            for mutation in log.mutations[Int(since)...] where mutation.deviceID != excludeDevice {
                page.append(mutation)
                if page.count == limit { break }
            }
            let latest = page.count == limit ? page[page.count - 1].seq : head
            return PullResponse(mutations: page, hasMore: head > latest, latestSeq: latest, headSeq: head, logID: log.logID)
        }
    }
}
