import Testing

extension Tag {
    /// Tests that depend on real time by nature: they measure latency over loopback, run
    /// `ferry serve` or Radicale processes, or wait for a database to stop and come back. `scripts/test`
    /// runs them last and on their own, so that the load of the other tests does not skew them.
    @Tag public static var realTime: Self
}
