import FerryCore

/// One step of a ``Simulation``: an app write, a sync, or a fault.
///
/// A step's `description` is a Swift expression that makes it again, so a shrunk failing
/// run printed by `scripts/simulate` can be pasted into a regression test as is.
public enum SimulationStep: Sendable, Hashable, CustomStringConvertible {
    /// What an app write does to its row.
    public enum WriteKind: Sendable, Hashable {
        /// Inserts the row with `values` (or, when it exists, sets them all).
        case insert
        /// Sets the columns whose bits are set in `fields` (bit 0 for the first value column)
        /// to their `values` (nothing when the row does not exist).
        case update
        /// Deletes the row (nothing when it does not exist).
        case delete
    }

    /// What the network does to one push request.
    public enum PushFault: Sendable, Hashable, CustomStringConvertible {
        /// The request never reaches the server; the device gets a transient error.
        case loseRequest
        /// The server commits the request; the answer never reaches the device.
        case loseAnswer
        /// The request is held in the network (the device times out) and reaches the server
        /// at a later ``SimulationStep/deliverDelayed`` or at the end: after later requests.
        case delayRequest
        /// The request reaches the server twice; the device gets the first answer, or the
        /// second (all `duplicate`) when `secondAnswer`.
        case duplicate(secondAnswer: Bool)

        public var description: String {
            switch self {
            case .loseRequest: ".loseRequest"
            case .loseAnswer: ".loseAnswer"
            case .delayRequest: ".delayRequest"
            case .duplicate(let second): ".duplicate(secondAnswer: \(second))"
            }
        }
    }

    /// The device writes to its table: `values` in the table's column order.
    case write(device: Int, table: String, key: String, kind: WriteKind, values: [JSONValue], fields: Int)
    /// The device syncs once (push, then pull). `pushFault` hits its push number
    /// `pushFaultAt` (0 for the first batch); `pullFaultSeed` makes some of its pulls fail (a
    /// pull's fate depends on the seed and the pull's `since_seq` only, so the read-ahead's
    /// timing cannot change it); `crashAtApply` crashes the device inside its `n`th
    /// transaction that moves a cursor (rolled back), and reopens it.
    case sync(device: Int, pushFault: PushFault?, pushFaultAt: Int, pullFaultSeed: UInt64?, crashAtApply: Int?)
    /// The oldest push request held by the network reaches the server; its answer is lost.
    case deliverDelayed
    /// The app on the device restarts: a new `LocalStore` (new session) on the same database.
    case reopen(device: Int)
    /// The server restarts on the same store.
    case restartServer
    /// Every access token expires; devices refresh on their next request.
    case expireTokens
    /// The server's log of the space is recreated empty, with a new `log_id` (a restore from
    /// an empty backup). Pushes held in the network are dropped: their connections went to
    /// the server that is gone.
    case resetLog
    /// Another client pushes the schema's poison record, under a new key.
    case poison
    /// The server builds a snapshot of the space at its head (small chunks) and, with
    /// `prune`, deletes the log up to it: devices behind it get `410 history_pruned` and
    /// bootstrap, and new ones bootstrap when it is far enough ahead.
    case snapshot(prune: Bool)
    /// The app is deleted and installed again on the device: a new database, a new device
    /// id, nothing pending. Its next sync starts from nothing (a bootstrap, when a snapshot
    /// is far enough ahead).
    case reinstall(device: Int)
    /// The stream consumer (an ``EventPipeline`` deriving every table's records) runs once;
    /// `faultSeed` loses some of its acknowledgements (before or after the server), and a
    /// failed run is a crash of the consumer: what it had not flushed is lost. Not drawn by
    /// ``Simulation/steps(seed:)`` yet: with pruning, a type that had no event in a finished
    /// stream restarts at the floor, past pruned events (docs/testing.md, known gaps).
    case consume(faultSeed: UInt64?)

    public var description: String {
        switch self {
        case .write(let device, let table, let key, let kind, let values, let fields):
            let list = values.map { Self.swiftLiteral($0) }.joined(separator: ", ")
            return
                ".write(device: \(device), table: \(Self.quoted(table)), key: \(Self.quoted(key)), kind: .\(kind), values: [\(list)], fields: \(fields))"
        case .sync(let device, let fault, let at, let seed, let crash):
            return
                ".sync(device: \(device), pushFault: \(fault.map { "\($0)" } ?? "nil"), pushFaultAt: \(at), pullFaultSeed: \(seed.map { "\($0)" } ?? "nil"), crashAtApply: \(crash.map { "\($0)" } ?? "nil"))"
        case .deliverDelayed: return ".deliverDelayed"
        case .reopen(let device): return ".reopen(device: \(device))"
        case .restartServer: return ".restartServer"
        case .expireTokens: return ".expireTokens"
        case .resetLog: return ".resetLog"
        case .poison: return ".poison"
        case .snapshot(let prune): return ".snapshot(prune: \(prune))"
        case .reinstall(let device): return ".reinstall(device: \(device))"
        case .consume(let seed): return ".consume(faultSeed: \(seed.map { "\($0)" } ?? "nil"))"
        }
    }

    /// The same step with its faults removed, or `nil` when it has none: for shrinking.
    var withoutFaults: SimulationStep? {
        guard case .sync(let device, let fault, _, let seed, let crash) = self, fault != nil || seed != nil || crash != nil else {
            return nil
        }
        return .sync(device: device, pushFault: nil, pushFaultAt: 0, pullFaultSeed: nil, crashAtApply: nil)
    }

    /// The device the step acts on, if any.
    var device: Int? {
        switch self {
        case .write(let device, _, _, _, _, _), .sync(let device, _, _, _, _), .reopen(let device), .reinstall(let device): device
        default: nil
        }
    }

    private static func quoted(_ text: String) -> String {
        String(decoding: JSONValue.string(text).serialized(), as: UTF8.self)
    }

    private static func swiftLiteral(_ value: JSONValue) -> String {
        switch value {
        case .null: ".null"
        case .bool(let flag): ".bool(\(flag))"
        case .int(let number): ".int(\(number))"
        case .double(let number): ".double(\(number))"
        case .string(let text): ".string(\(quoted(text)))"
        default: ".null"
        }
    }
}

extension SimulationStep {
    /// Steps drawn from `generator`: mostly writes and syncs, with faults among them.
    static func generate(
        count: Int,
        devices: Int,
        schema: SimulationSchema,
        using generator: inout SeededGenerator
    ) -> [SimulationStep] {
        var steps: [SimulationStep] = []
        steps.reserveCapacity(count)
        for _ in 0..<count {
            let roll = Int.random(in: 0..<100, using: &generator)
            let device = Int.random(in: 0..<devices, using: &generator)
            switch roll {
            case 0..<45:
                let table = schema.tables[Int.random(in: 0..<schema.tables.count, using: &generator)]
                let key = schema.keys[Int.random(in: 0..<schema.keys.count, using: &generator)]
                let kindRoll = Int.random(in: 0..<100, using: &generator)
                let kind: WriteKind = kindRoll < 40 ? .insert : kindRoll < 85 ? .update : .delete
                let values = table.columns.map { column in column.values[Int.random(in: 0..<column.values.count, using: &generator)] }
                let fields = Int.random(in: 1..<(1 << table.columns.count), using: &generator)
                steps.append(.write(device: device, table: table.name, key: key, kind: kind, values: values, fields: fields))
            case 45..<82:
                var fault: PushFault?
                var at = 0
                if Int.random(in: 0..<100, using: &generator) < 35 {
                    at = Int.random(in: 0..<2, using: &generator)
                    switch Int.random(in: 0..<4, using: &generator) {
                    case 0: fault = .loseRequest
                    case 1: fault = .loseAnswer
                    case 2: fault = .delayRequest
                    default: fault = .duplicate(secondAnswer: Bool.random(using: &generator))
                    }
                }
                let seed: UInt64? = Int.random(in: 0..<100, using: &generator) < 25 ? generator.next() : nil
                let crash: Int? = Int.random(in: 0..<100, using: &generator) < 10 ? Int.random(in: 1...2, using: &generator) : nil
                steps.append(.sync(device: device, pushFault: fault, pushFaultAt: at, pullFaultSeed: seed, crashAtApply: crash))
            case 82..<86: steps.append(.deliverDelayed)
            case 86..<88: steps.append(.reopen(device: device))
            case 88..<90: steps.append(.restartServer)
            case 90..<92: steps.append(.expireTokens)
            case 92..<93: steps.append(.resetLog)
            case 93..<96: steps.append(.snapshot(prune: Bool.random(using: &generator)))
            case 96..<97: steps.append(.reinstall(device: device))
            default: steps.append(schema.poison == nil ? .deliverDelayed : .poison)
            }
        }
        return steps
    }
}
