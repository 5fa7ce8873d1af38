import Foundation

/// Samples this process's resident memory while some work runs.
enum RSSSampler {
    /// One sample: seconds since the work started, resident MiB.
    typealias Sample = (seconds: Double, megabytes: Double)

    /// Runs `body`, sampling the resident memory every `interval` in a child task meanwhile;
    /// answers what `body` answers and the samples.
    static func sampling<T>(every interval: Duration, _ body: () async throws -> T) async throws -> (result: T, samples: [Sample]) {
        try await withThrowingTaskGroup(of: [Sample].self) { group in
            let start = ContinuousClock.now
            group.addTask {
                var samples: [Sample] = []
                while !Task.isCancelled {
                    samples.append(((ContinuousClock.now - start).seconds, ProcessMemory.residentMB() ?? 0))
                    try? await Task.sleep(for: interval)
                }
                return samples
            }
            let result: Result<T, any Error>
            do {
                result = .success(try await body())
            } catch {
                result = .failure(error)
            }
            group.cancelAll()
            let samples = try await group.next() ?? []
            return (try result.get(), samples)
        }
    }
}
