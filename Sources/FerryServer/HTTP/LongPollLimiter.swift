import FerryCore
import FerryLog
import Hummingbird
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

extension LongPollLimiter.Refusal {
    /// The answer to a long-poll, or a live channel, refused for this reason: `429
    /// rate_limited` naming the limit, with `Retry-After` (``FerryLog/ServerConfiguration/longPollRetryAfter``,
    /// at least 1 s), so that a client looping on long-polls waits instead of asking again at
    /// once. Counted in `ferry_longpoll_refused_total`.
    func response(
        configuration: ServerConfiguration,
        metrics: ServerMetrics,
        request: Request,
        context: FerryRequestContext
    ) throws -> Response {
        metrics.recordLongPollRefused(limit: rawValue)
        let seconds = max(1, configuration.longPollRetryAfter.components.seconds)
        let limit =
            self == .perToken
            ? "this token holds \(configuration.maxLongPollsPerToken) long-polls already"
            : "the server holds \(configuration.maxLongPolls) long-polls already"
        var response = try FerryError(.rateLimited, "\(limit); ask again in \(seconds) s").response(from: request, context: context)
        response.headers[.retryAfter] = String(seconds)
        return response
    }
}
