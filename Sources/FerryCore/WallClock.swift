import Foundation

/// The source of wall-clock time for timestamps and expiry, injected so that tests can move
/// time without sleeping.
public struct WallClock: Sendable {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var nowMilliseconds: @Sendable () -> Int64

    /// Creates a clock from a function that reads the time.
    public init(nowMilliseconds: @escaping @Sendable () -> Int64) {
        self.nowMilliseconds = nowMilliseconds
    }

    /// The system's clock.
    public static let system = WallClock {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}
