import Foundation

/// Samples resident memory while some work runs: this process's, or several processes'.
enum RSSSampler {
    /// One sample: seconds since the work started, resident MiB.
    typealias Sample = (seconds: Double, megabytes: Double)

    /// One sample of several processes: seconds since the work started, resident MiB of each.
    typealias Samples = (seconds: Double, megabytes: [Double])

    /// Runs `body`, sampling this process's resident memory every `interval` in a child task
    /// meanwhile; answers what `body` answers and the samples.
    static func sampling<T>(every interval: Duration, _ body: () async throws -> T) async throws -> (result: T, samples: [Sample]) {
        let (result, samples) = try await sampling(pids: [nil], every: interval, body)
        return (result, samples.map { ($0.seconds, $0.megabytes[0]) })
    }

    /// Runs `body`, sampling the resident memory of `pids` (`nil`: this process) every
    /// `interval` in a child task meanwhile; answers what `body` answers and the samples.
    static func sampling<T>(
        pids: [Int32?],
        every interval: Duration,
        _ body: () async throws -> T
    ) async throws -> (result: T, samples: [Samples]) {
        try await withThrowingTaskGroup(of: [Samples].self) { group in
            let start = ContinuousClock.now
            group.addTask {
                var samples: [Samples] = []
                while !Task.isCancelled {
                    samples.append(((ContinuousClock.now - start).seconds, pids.map { ProcessMemory.residentMB(of: $0) ?? 0 }))
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
