import FerryCore
import Logging

/// Keeps the transport's tokens and makes sure that at most one refresh is in flight.
///
/// Every request reads ``current()`` and remembers the ``Credentials`` it was sent with. A
/// request refused with `401` calls ``renew(after:refusal:)`` with them:
/// - if a refresh has completed since they were read, it gets the newer token at once;
/// - if a refresh is in flight, it waits for that one and shares its outcome;
/// - otherwise it starts the refresh that all the others will wait for.
///
/// The refresh runs in a task of its own so that a caller's cancellation never abandons a
/// refresh the server may already have performed: the rotated refresh token would be lost
/// with it. The task ends when the refresh request answers or times out;
/// ``waitUntilIdle()`` waits for it.
actor TokenRefresher {
    /// An access token and the generation it belongs to: the number of refreshes before it.
    struct Credentials: Sendable, Hashable {
        /// The bearer token.
        var accessToken: String
        /// Counts the refreshes that replaced earlier tokens.
        var generation: UInt64
    }

    /// Spends a refresh token and answers the new pair; throws ``SyncTransportError``.
    typealias Spend = @Sendable (_ refreshToken: String) async throws -> TokenPair

    private var accessToken: String
    private var refreshToken: String?
    private var generation: UInt64 = 0
    private var inFlight: Task<Void, any Error>?
    private let spend: Spend
    private let onRefreshed: @Sendable (TokenPair) async -> Void
    private let logger: Logger

    /// The number of refreshes that succeeded.
    private(set) var refreshCount = 0

    /// Creates a refresher that starts from the given tokens.
    init(
        accessToken: String,
        refreshToken: String?,
        logger: Logger,
        spend: @escaping Spend,
        onRefreshed: @escaping @Sendable (TokenPair) async -> Void
    ) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.logger = logger
        self.spend = spend
        self.onRefreshed = onRefreshed
    }

    /// The access token to send now.
    func current() -> Credentials {
        Credentials(accessToken: accessToken, generation: generation)
    }

    /// Answers credentials newer than `failed`, refreshing only if no refresh has completed
    /// since `failed` was read and none is in flight.
    ///
    /// - Parameter refusal: The `401` the failed request got, thrown when there is nothing
    ///   to refresh with.
    /// - Throws: ``SyncTransportError``: `authRequired` when there is no usable refresh token
    ///   or the server refuses it, `transient` when the refresh could not reach the server.
    func renew(after failed: Credentials, refusal: SyncTransportError) async throws -> Credentials {
        while generation == failed.generation {
            if let inFlight {
                // Shares the outcome of the refresh in progress, then looks again: state may
                // have moved while we waited.
                try await inFlight.value
                continue
            }
            guard let refreshToken else {
                throw SyncTransportError(
                    .authRequired,
                    "the server refused the access token and there is no refresh token: \(refusal.message)",
                    status: refusal.status,
                    code: refusal.code
                )
            }
            let task = Task { try await self.refresh(spending: refreshToken) }
            inFlight = task
            try await task.value
        }
        return current()
    }

    /// Waits until no refresh is in flight.
    func waitUntilIdle() async {
        while let inFlight {
            _ = try? await inFlight.value
        }
    }

    /// Spends `token` and stores the pair the server answers.
    private func refresh(spending token: String) async throws {
        defer { inFlight = nil }
        logger.debug("refreshing the access token")
        let pair: TokenPair
        do {
            pair = try await spend(token)
        } catch let error as SyncTransportError where error.kind == .authRequired {
            // The refresh token is spent or revoked: later refusals fail at once.
            if refreshToken == token { refreshToken = nil }
            logger.debug("the server refused the refresh token", metadata: ["error": "\(error)"])
            throw error
        }
        accessToken = pair.accessToken
        refreshToken = pair.refreshToken
        generation += 1
        refreshCount += 1
        logger.debug("access token refreshed", metadata: ["generation": "\(generation)"])
        await onRefreshed(pair)
    }
}
