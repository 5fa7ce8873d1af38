import Foundation
import Synchronization

/// Samples this process's resident memory in the background until stopped.
final class RSSSampler: Sendable {
    private let samples = Mutex<[(seconds: Double, megabytes: Double)]>([])
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Starts sampling every `interval`.
    init(every interval: Duration) {
        let start = ContinuousClock.now
        let sampling = Task { [self] in
            while !Task.isCancelled {
                let megabytes = ProcessMemory.residentMB() ?? 0
                let seconds = (ContinuousClock.now - start).seconds
                samples.withLock { $0.append((seconds, megabytes)) }
                try? await Task.sleep(for: interval)
            }
        }
        task.withLock { $0 = sampling }
    }

    /// Stops sampling and answers the samples: seconds since the start, resident MiB.
    func stop() async -> [(seconds: Double, megabytes: Double)] {
        let sampling = task.withLock { $0 }
        sampling?.cancel()
        await sampling?.value
        return samples.withLock { $0 }
    }
}
