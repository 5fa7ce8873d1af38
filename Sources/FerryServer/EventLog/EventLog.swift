import FerryCore

/// A mutation to append to a space's log, as pushed; the server checks it against the
/// protocol's rules before it reaches a store.
public struct NewMutation: Sendable, Hashable {
    /// The writer's id for the mutation.
    public var clientActionID: Int64
    /// The record type.
    public var entity: String
    /// The record's id.
    public var entityKey: String
    /// What the mutation does.
    public var op: MutationOp
    /// The payload's compact JSON text, or `nil` when the push had none.
    public var payload: [UInt8]?
    /// The version the change was made on.
    public var baseSeq: Int64?
    /// When the change was made on the device, RFC 3339.
    public var clientTimestamp: String?

    /// Creates a validated mutation.
    public init(
        clientActionID: Int64,
        entity: String,
        entityKey: String,
        op: MutationOp,
        payload: [UInt8]?,
        baseSeq: Int64?,
        clientTimestamp: String?
    ) {
        self.clientActionID = clientActionID
        self.entity = entity
        self.entityKey = entityKey
        self.op = op
        self.payload = payload
        self.baseSeq = baseSeq
        self.clientTimestamp = clientTimestamp
    }
}

/// A batch of validated mutations from one (device, session), appended in one transaction.
public struct AppendBatch: Sendable, Hashable {
    /// The space whose log receives the batch; its log is created if it has none yet.
    public var space: String
    /// The writing device.
    public var deviceID: String
    /// The writing session.
    public var sessionID: String
    /// The mutations, in the order they are to be logged.
    public var mutations: [NewMutation]

    /// Creates a batch.
    public init(space: String, deviceID: String, sessionID: String, mutations: [NewMutation]) {
        self.space = space
        self.deviceID = deviceID
        self.sessionID = sessionID
        self.mutations = mutations
    }
}

/// What became of one mutation of an ``AppendBatch``.
public enum AppendOutcome: Sendable, Hashable {
    /// Stored under this seq by this batch.
    case stored(seq: Int64)
    /// Its triple was already stored, under this seq; nothing was written.
    case duplicate(seq: Int64)
}

/// The result of appending a batch: one outcome per mutation, in batch order.
public struct AppendResult: Sendable, Hashable {
    /// One outcome per mutation of the batch, in the same order.
    public var outcomes: [AppendOutcome]
    /// Stored mutations whose `base_seq` is older than another device's latest write of
    /// the same record.
    public var conflicts: [ConflictReport]
    /// The space's head after the batch.
    public var headSeq: Int64
    /// The id of the space's log.
    public var logID: String

    /// Creates a result.
    public init(outcomes: [AppendOutcome], conflicts: [ConflictReport], headSeq: Int64, logID: String) {
        self.outcomes = outcomes
        self.conflicts = conflicts
        self.headSeq = headSeq
        self.logID = logID
    }
}

/// One mutation of a space's log as a store keeps it: the payload is the JSON text that was
/// pushed, written into pull answers as it is, without being read again.
public struct StoredMutation: Sendable, Hashable {
    /// The mutation's position in its space's log.
    public var seq: Int64
    /// The device that wrote it.
    public var deviceID: String
    /// The session of that device that wrote it.
    public var sessionID: String
    /// The writer's id for the mutation.
    public var clientActionID: Int64
    /// The record type.
    public var entity: String
    /// The record's id within its entity.
    public var entityKey: String
    /// What the mutation does.
    public var op: MutationOp
    /// The payload's compact JSON text as stored; `nil` when the push had none.
    public var payload: [UInt8]?
    /// As pushed; absent when the push had none.
    public var baseSeq: Int64?
    /// As pushed; absent when the push had none.
    public var clientTimestamp: String?
    /// The commit time, in milliseconds since 1970 (UTC).
    public var occurredAtMilliseconds: Int64

    /// Creates a stored mutation.
    public init(
        seq: Int64,
        deviceID: String,
        sessionID: String,
        clientActionID: Int64,
        entity: String,
        entityKey: String,
        op: MutationOp,
        payload: [UInt8]?,
        baseSeq: Int64?,
        clientTimestamp: String?,
        occurredAtMilliseconds: Int64
    ) {
        self.seq = seq
        self.deviceID = deviceID
        self.sessionID = sessionID
        self.clientActionID = clientActionID
        self.entity = entity
        self.entityKey = entityKey
        self.op = op
        self.payload = payload
        self.baseSeq = baseSeq
        self.clientTimestamp = clientTimestamp
        self.occurredAtMilliseconds = occurredAtMilliseconds
    }

    /// The mutation as a pull answer carries it, with its payload read.
    /// - Throws: ``FerryCore/JSONReadError`` when the stored payload is not valid JSON.
    public func logged() throws -> LoggedMutation {
        LoggedMutation(
            seq: seq,
            deviceID: deviceID,
            sessionID: sessionID,
            clientActionID: clientActionID,
            entity: entity,
            entityKey: entityKey,
            op: op,
            payload: try payload.map { try JSONValue(parsing: $0) },
            baseSeq: baseSeq,
            clientTimestamp: clientTimestamp,
            occurredAt: RFC3339.format(millisecondsSince1970: occurredAtMilliseconds)
        )
    }
}

/// One page of a space's log, read from a consistent snapshot.
public struct LogPage: Sendable, Hashable {
    /// The mutations of the page, ascending by seq.
    public var mutations: [StoredMutation]
    /// The cursor that covers this page, excluded mutations included.
    public var latestSeq: Int64
    /// The space's head in the snapshot the page was read from.
    public var headSeq: Int64
    /// The id of the space's log.
    public var logID: String

    /// True exactly when the head is beyond this page.
    public var hasMore: Bool { headSeq > latestSeq }

    /// Creates a page.
    public init(mutations: [StoredMutation], latestSeq: Int64, headSeq: Int64, logID: String) {
        self.mutations = mutations
        self.latestSeq = latestSeq
        self.headSeq = headSeq
        self.logID = logID
    }
}

/// The storage seam of the server: one ordered, deduplicated log per space.
///
/// Every store gives the same promises, checked by one contract test suite:
/// - seqs are 1, 2, 3, … per space, dense and commit-ordered: once a reader can see seq N
///   it can see every seq below N;
/// - a batch is appended in one transaction, and is durable when ``append(_:)`` returns;
/// - a (device, session, client action id) triple is stored at most once per space;
/// - a space's log, and its `log_id`, is created by the first append or read that names it.
public protocol EventLog: Sendable {
    /// Appends a batch in one transaction and answers what became of each mutation.
    func append(_ batch: AppendBatch) async throws -> AppendResult

    /// Reads the mutations with `seq > since`, at most `limit` of them, leaving out those
    /// written by `excludingDevice`.
    ///
    /// The page's `latestSeq` is the seq of its last mutation when the page is full, and the
    /// head otherwise, so that excluded mutations are covered too.
    /// - Throws: ``FerryError`` with code `cursor_ahead` when `since` is above the head.
    func read(space: String, since: Int64, limit: Int, excludingDevice: String?) async throws -> LogPage

    /// Returns once the space's head is above `seq` (answering `true`), or when `timeout`
    /// has passed, the task is cancelled, or the server shuts down (answering `false`).
    /// Commits made anywhere the log is shared wake the waiter.
    func waitForAppend(space: String, above seq: Int64, timeout: Duration) async -> Bool

    /// Throws when the storage does not answer.
    func checkHealth() async throws

    /// Wakes every waiter and refuses new waits, for a graceful shutdown.
    func shutdownWaiters()
}
