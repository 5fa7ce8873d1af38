/// What an access token allows: the spaces of its grant.
public struct TokenScope: Sendable, Hashable {
    /// The grant the token belongs to.
    public var grantID: String
    /// The spaces the token may read and write.
    public var spaces: Set<String>

    /// Creates a scope.
    public init(grantID: String, spaces: Set<String>) {
        self.grantID = grantID
        self.spaces = spaces
    }

    /// Whether the token may read and write `space`.
    public func allows(_ space: String) -> Bool { spaces.contains(space) }
}
