import FerryCore

/// A resolver: answers the merged record (or `nil` to delete it). The answer is written
/// as a new local mutation, so every device ends with it.
public typealias ConflictResolver = @Sendable (ConflictContext) -> [String: JSONValue]?

/// How a table settles a remote change to a field that a pending local change also changed.
/// Every such conflict is recorded, whatever the policy.
public enum ConflictPolicy: Sendable {
    /// The later write in server order wins: pending local changes are pushed after the
    /// remote one, so they win. The default.
    case lastWriterWins
    /// The remote change wins: conflicting pending local changes are dropped (or, if the
    /// server already took them, overridden by a new local mutation that restores the
    /// remote values). Such a restore is a *settlement*: once the server has taken it, it is
    /// not settled again, so devices that all let the remote win do not restore each
    /// other's values forever; the later conflict is recorded as `local_wins`.
    case remoteWins
    /// A resolver returns the merged record, written as a new local mutation (a settlement,
    /// as for ``remoteWins``).
    case custom(ConflictResolver)

    /// The name stored in the database.
    var storedName: String {
        switch self {
        case .lastWriterWins: "last_writer_wins"
        case .remoteWins: "remote_wins"
        case .custom: "custom"
        }
    }
}
