import FerryCore
import Synchronization

/// One read of a space's new mutations, shared by the long-polls a commit wakes (and by
/// the long-polls that arrive together, as the devices it answered come back at once).
///
/// A push to a space wakes every device holding a long-poll on it, nearly all at the same
/// cursor (the head they waited above). Each reading the store on its own costs one query
/// per device, run one after another on the store's connections, so the last device is
/// answered after N reads. Here the first woken waiter starts the read of `(space, since,
/// limit)` without excluding a device, every waiter of the same cursor and limit awaits that
/// same read, and each takes its own page from it by leaving its device's mutations out.
///
/// The page each waiter answers is the one the store would have read for it: a read shorter
/// than the limit reached the head, so leaving mutations out of it is what excluding them
/// in the query does. Only when a full page loses mutations to the exclusion (the store
/// would have read further) does that waiter read on its own.
package final class WakeUpReads: Sendable {
    private struct Key: Hashable {
        var space: String
        var since: Int64
        var limit: Int
    }

    /// A read in flight and how many callers await it.
    private struct Shared {
        var read: Task<LogPage, any Error>
        var callers: Int
    }

    private let inFlight = Mutex<[Key: Shared]>([:])

    /// An instance with nothing in flight.
    package init() {}

    /// The page of `query` from `eventLog`, read once for every waiter of the same space,
    /// cursor and limit that asks while the read is in flight.
    package func page(for query: PullQuery, from eventLog: any EventLog) async throws -> LogPage {
        let key = Key(space: query.space, since: query.since, limit: query.limit)
        let read = inFlight.withLock { inFlight in
            if let running = inFlight[key] {
                inFlight[key]?.callers += 1
                return running.read
            }
            // The read leaves the table when it ends, so a later commit starts a new one.
            let started = Task {
                defer { _ = self.inFlight.withLock { $0.removeValue(forKey: key) } }
                return try await eventLog.read(space: key.space, since: key.since, limit: key.limit, excludingDevice: nil)
            }
            inFlight[key] = Shared(read: started, callers: 1)
            return started
        }
        let shared = try await read.value
        guard let device = query.excludeDevice else { return shared }
        if let own = Self.page(of: shared, excluding: device, limit: query.limit) { return own }
        return try await eventLog.read(space: query.space, since: query.since, limit: query.limit, excludingDevice: device)
    }

    /// The page a read excluding `device` answers, taken from `shared`, the same read
    /// without the exclusion; `nil` when it cannot be told (a full page lost mutations).
    package static func page(of shared: LogPage, excluding device: String, limit: Int) -> LogPage? {
        guard shared.mutations.contains(where: { $0.deviceID == device }) else { return shared }
        guard shared.mutations.count < limit else { return nil }
        var own = shared
        own.mutations.removeAll { $0.deviceID == device }
        return own
    }

    /// How many callers await a read in flight (for tests).
    package var callersAwaiting: Int { inFlight.withLock { $0.values.reduce(0) { $0 + $1.callers } } }
}
