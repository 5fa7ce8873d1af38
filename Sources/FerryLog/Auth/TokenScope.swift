/// What an access token allows: the spaces of its grant, or the admin API.
public struct TokenScope: Sendable, Hashable {
    /// The grant the token belongs to.
    public var grantID: String
    /// The spaces the token may read and write.
    public var spaces: Set<String>
    /// Whether the token is an admin token: it reaches the `/admin/...` routes and nothing of
    /// any space.
    public var isAdmin: Bool

    /// Creates a scope.
    public init(grantID: String, spaces: Set<String>, isAdmin: Bool = false) {
        self.grantID = grantID
        self.spaces = spaces
        self.isAdmin = isAdmin
    }

    /// Whether the token may read and write `space`; never for an admin token.
    public func allows(_ space: String) -> Bool { !isAdmin && spaces.contains(space) }
}
