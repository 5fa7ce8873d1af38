/// How ``JWTAuthenticator`` verifies the JSON Web Tokens of an app's own identity provider.
///
/// A JWT is accepted when its signature verifies with one of the configured keys, with an
/// algorithm the keys allow (`alg: none` never), its `exp` is not past (within ``leeway``),
/// its `nbf`, when present, is not ahead (within ``leeway``), its `iss` and `aud` match when
/// ``issuer`` and ``audience`` are set, it names a subject (`sub`), and its ``spacesClaim``
/// is a non-empty list of space names. Its scope is those spaces, under the grant id
/// `jwt:<sub>`; a JWT never reaches the `/admin` routes.
public struct JWTConfiguration: Sendable {
    /// Where the verification keys come from.
    public enum Keys: Sendable {
        /// A secret shared with the identity provider: HS256 only.
        case hs256(secret: [UInt8])
        /// A JSON Web Key Set in a file: RS256, RS384, RS512, ES256 and ES384 keys named by
        /// `kid`. The file is re-read when it changes (looked at once a second at most, and at
        /// once when a token names a key it does not hold).
        case jwksFile(path: String)
        /// A JSON Web Key Set at an HTTPS (or HTTP) URL, as identity providers publish it;
        /// fetched with AsyncHTTPClient, kept for ``JWTConfiguration/jwksCacheDuration``, and
        /// fetched again early when a token names an unknown key, at most once per
        /// ``JWTConfiguration/jwksMinimumRefetchInterval``.
        case jwksURL(String)
    }

    /// Where the verification keys come from.
    public var keys: Keys
    /// The `iss` a token must carry; `nil` (the default) checks none.
    public var issuer: String?
    /// A value the token's `aud` (a string or a list) must hold; `nil` (the default) checks none.
    public var audience: String?
    /// The claim that lists the token's spaces, a JSON list of space names; default `spaces`.
    /// Taken literally: `https://example.com/spaces` names one claim.
    public var spacesClaim: String
    /// How far `exp` and `nbf` may be off the server's clock; default 30 seconds.
    public var leeway: Duration
    /// How long fetched keys of a ``Keys/jwksURL(_:)`` are used before they are fetched
    /// again; default 5 minutes.
    public var jwksCacheDuration: Duration
    /// The shortest time between two fetches of a ``Keys/jwksURL(_:)`` that a token with an
    /// unknown `kid` (or a failed fetch) causes, so that a flood of made-up key ids cannot
    /// hammer the identity provider; default 30 seconds.
    public var jwksMinimumRefetchInterval: Duration
    /// How often a ``Keys/jwksFile(path:)`` is looked at for a change; default 1 second.
    public var jwksFileCheckInterval: Duration

    /// Creates a configuration with the documented defaults.
    public init(
        keys: Keys,
        issuer: String? = nil,
        audience: String? = nil,
        spacesClaim: String = "spaces",
        leeway: Duration = .seconds(30),
        jwksCacheDuration: Duration = .seconds(300),
        jwksMinimumRefetchInterval: Duration = .seconds(30),
        jwksFileCheckInterval: Duration = .seconds(1)
    ) {
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.spacesClaim = spacesClaim
        self.leeway = leeway
        self.jwksCacheDuration = jwksCacheDuration
        self.jwksMinimumRefetchInterval = jwksMinimumRefetchInterval
        self.jwksFileCheckInterval = jwksFileCheckInterval
    }
}

extension Duration {
    /// The duration in whole milliseconds, for comparing with a ``FerryCore/WallClock``.
    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
