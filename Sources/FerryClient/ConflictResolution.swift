/// How a recorded conflict was settled.
public struct ConflictResolution: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The resolution's name.
    public var rawValue: String

    /// Creates a resolution from its name.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The pending local change stays and wins in server order.
    public static let localWins = ConflictResolution(rawValue: "local_wins")
    /// The remote change wins; the conflicting local change was dropped or overridden.
    public static let remoteWins = ConflictResolution(rawValue: "remote_wins")
    /// A resolver's merged record was written as a new local mutation.
    public static let merged = ConflictResolution(rawValue: "merged")
    /// The server reported the conflict on push; the pull of the remote change settles it.
    public static let reported = ConflictResolution(rawValue: "reported")

    public var description: String { rawValue }
}
