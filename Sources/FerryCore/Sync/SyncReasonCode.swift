/// Why a sync manager is in its phase, as a code a program can act on: an open set, so that
/// later versions can add codes without breaking `switch` statements of users.
///
/// The codes of failed cycles are the names of ``SyncTransportError/Kind``
/// (``init(_:)``); the manager adds its own (``leaseHeld``, ``upgrade``, ``internalError``).
/// In JSON a code is its name.
public struct SyncReasonCode: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The code's name.
    public var rawValue: String

    /// Creates a code from its name.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The code of a transport failure of this kind: the kind's name.
    public init(_ kind: SyncTransportError.Kind) { self.rawValue = kind.rawValue }

    /// The server could not be reached or failed for now; the next attempt may succeed.
    public static let transient = SyncReasonCode(.transient)
    /// The credentials were refused and could not be renewed.
    public static let authRequired = SyncReasonCode(.authRequired)
    /// The credentials do not allow this space.
    public static let policyForbidden = SyncReasonCode(.policyForbidden)
    /// The server refused the request and will refuse it again.
    public static let permanent = SyncReasonCode(.permanent)
    /// Another process holds the database's sync lease and syncs it.
    public static let leaseHeld = SyncReasonCode(rawValue: "lease_held")
    /// Cycles are stopped for an upgrade.
    public static let upgrade = SyncReasonCode(rawValue: "upgrade")
    /// A cycle failed for a reason other than the transport's (the local database, say).
    public static let internalError = SyncReasonCode(rawValue: "internal_error")

    public var description: String { rawValue }
}
