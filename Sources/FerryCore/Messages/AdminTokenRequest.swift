/// The body of `POST /admin/tokens`: the grant an app's backend asks for, for one device.
public struct AdminTokenRequest: Codable, Sendable, Hashable {
    /// The default lifetime of an access token, in seconds: one day, as `ferry token create`.
    public static let defaultTTL: Int64 = 86_400
    /// The longest lifetime of an access token, in seconds: one year.
    public static let maxTTL: Int64 = 31_536_000
    /// The most spaces one grant names.
    public static let maxSpaces = 1000

    /// The spaces the grant's tokens may read and write: at least one, each a valid space
    /// name (``ProtocolRules/isValidSpace(_:)``); a repeated name counts once.
    public var spaces: [String]
    /// The lifetime of each access token of the grant, in seconds; `nil` for ``defaultTTL``.
    public var ttl: Int64?

    /// Creates a request.
    public init(spaces: [String], ttl: Int64? = nil) {
        self.spaces = spaces
        self.ttl = ttl
    }

    /// Decodes a request; `ttl` may be absent, but not `null`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        spaces = try container.decode([String].self, forKey: .spaces)
        ttl = container.contains(.ttl) ? try container.decode(Int64.self, forKey: .ttl) : nil
    }

    /// The problem of the request, as a `400` names it; `nil` when it is valid.
    public var problem: String? {
        if spaces.isEmpty { return "spaces must name at least one space" }
        if spaces.count > Self.maxSpaces { return "spaces names \(spaces.count) spaces; at most \(Self.maxSpaces) are accepted" }
        if let bad = spaces.first(where: { !ProtocolRules.isValidSpace($0) }) {
            return "'\(bad)' is not a space name: it must match ^[a-z0-9][a-z0-9._-]{0,63}$"
        }
        if let ttl, !(1...Self.maxTTL).contains(ttl) {
            return "ttl must be between 1 and \(Self.maxTTL) seconds"
        }
        return nil
    }

    enum CodingKeys: String, CodingKey {
        case spaces
        case ttl
    }
}
