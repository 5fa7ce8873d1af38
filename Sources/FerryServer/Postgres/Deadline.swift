import FerryCore
import Synchronization

/// Answers `operation`'s result, or throws ``FerryCore/FerryError`` `unavailable` once
/// `timeout` has passed on `clock`. Cancelling the caller cancels the operation.
///
/// On a timeout the operation is cancelled but **not waited for**: a connection request or a
/// query stuck on a dead database may ignore cancellation, and it must not hold the HTTP
/// request (or a graceful shutdown) with it. That is why this is not a task group, which
/// would wait for all its children: the operation and the timer run in tasks of their own,
/// and whichever finishes first answers through one continuation.
package func withDeadline<T: Sendable>(
    _ timeout: Duration,
    clock: any Clock<Duration>,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let outcome = Mutex<CheckedContinuation<T, any Error>?>(nil)
    let finish: @Sendable (Result<T, any Error>) -> Bool = { result in
        guard let continuation = outcome.withLock({ value in value.take() }) else { return false }
        continuation.resume(with: result)
        return true
    }
    let work = Task { try await operation() }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            outcome.withLock { $0 = continuation }
            let timer = Task {
                try await clock.sleep(for: timeout)
                if finish(.failure(FerryError(.unavailable, "the database did not answer within \(timeout)"))) {
                    work.cancel()
                }
            }
            Task {
                let result = await work.result
                if finish(result) { timer.cancel() }
            }
        }
    } onCancel: {
        work.cancel()
    }
}
