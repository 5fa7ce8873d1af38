import Synchronization

/// Counts the long-polls a server holds, per grant and in total, and refuses one more than
/// ``FerryLog/ServerConfiguration/maxLongPollsPerToken`` or
/// ``FerryLog/ServerConfiguration/maxLongPolls`` allow.
final class LongPollLimiter: Sendable {
    /// Why a long-poll was refused.
    enum Refusal: String, Sendable {
        /// The grant holds its most long-polls.
        case perToken = "per_token"
        /// The server holds its most long-polls.
        case total
    }

    private struct State {
        var total = 0
        var byGrant: [String: Int] = [:]
    }

    private let perGrant: Int
    private let total: Int
    private let state = Mutex(State())

    /// A limiter allowing `perGrant` long-polls per grant and `total` in all.
    init(perGrant: Int, total: Int) {
        self.perGrant = perGrant
        self.total = total
    }

    /// Takes a place for a long-poll of `grant`; answers why not when there is none. A place
    /// taken is given back with ``release(grant:)``.
    func acquire(grant: String) -> Refusal? {
        state.withLock { state in
            guard state.total < total else { return .total }
            let held = state.byGrant[grant, default: 0]
            guard held < perGrant else { return .perToken }
            state.total += 1
            state.byGrant[grant] = held + 1
            return nil
        }
    }

    /// Gives back a place taken by ``acquire(grant:)``.
    func release(grant: String) {
        state.withLock { state in
            state.total -= 1
            let held = state.byGrant[grant, default: 1] - 1
            state.byGrant[grant] = held > 0 ? held : nil
        }
    }

    /// The long-polls held now, in total.
    var held: Int { state.withLock { $0.total } }
}
