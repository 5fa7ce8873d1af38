/// Telemetry of a ``DeltaSync`` run, one event per step: every batch written, every wait,
/// and how the run ended.
public enum DeltaSyncEvent: Sendable, Hashable {
    /// The run began; `fullResync` when there were no stored tokens.
    case started(stream: String, fullResync: Bool)
    /// The source answered `ready: false`; the run starts again after `delay`.
    case waitingForReady(stream: String, attempt: Int, delay: Duration)
    /// The source answered `429`/`503`; the run asks again after `delay`.
    case rateLimited(stream: String, attempt: Int, delay: Duration)
    /// The source no longer knows the stored tokens: the run starts over as a full sync.
    case tokensRejected(stream: String)
    /// A page of the updated drain was written: `count` records, `total` so far in this run,
    /// `duration` from asking for the page to having written it.
    case updatedBatch(stream: String, count: Int, total: Int, duration: Duration)
    /// A page of the deleted drain was written.
    case deletedBatch(stream: String, count: Int, total: Int, duration: Duration)
    /// The run finished and stored its tokens.
    case finished(DeltaSyncResult)
    /// The run failed; the stored tokens did not move.
    case failed(stream: String, code: DeltaSyncError.Code, message: String)
}
