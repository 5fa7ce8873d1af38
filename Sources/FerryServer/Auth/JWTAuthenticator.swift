import AsyncHTTPClient
import FerryCore
import FerryLog
import Foundation
import JWTKit
import Logging

/// Verifies the JSON Web Tokens an app's own identity provider issues (as PowerSync and Zero
/// accept them), so that a device signs in to Ferry with the token of the app's sign-in.
///
/// Hand one to ``FerryApplication``: a bearer value that is a JWT (three dot-separated
/// base64url parts) is then verified by it, and Ferry's own opaque tokens keep working
/// beside it. What makes a token acceptable is ``JWTConfiguration``'s; a refusal is a
/// ``JWTRefusal`` whose ``JWTRefusal/reason`` the server counts in
/// `ferry_auth_failures_total`.
public final class JWTAuthenticator: Sendable {
    private let configuration: JWTConfiguration
    private let clock: WallClock
    private let source: JWTKeySource

    /// Creates an authenticator; no key is read or fetched before the first token.
    /// - Parameters:
    ///   - clock: Decides which tokens have expired (tests move it instead of sleeping).
    ///   - httpClient: Fetches a ``JWTConfiguration/Keys/jwksURL(_:)``; the shared client by default.
    ///   - logger: Where a JWKS that cannot be read or fetched is reported (never a token).
    public init(
        configuration: JWTConfiguration,
        clock: WallClock = .system,
        httpClient: HTTPClient = .shared,
        logger: Logger
    ) async {
        self.configuration = configuration
        self.clock = clock
        self.source = await JWTKeySource(configuration: configuration, clock: clock, httpClient: httpClient, logger: logger)
    }

    /// Reads or fetches the keys now, so that a server fails at its start rather than at its
    /// first request when they cannot be had.
    /// - Throws: ``JWTRefusal`` with reason `jwks_unavailable` when there are no keys.
    public func loadKeys() async throws(JWTRefusal) {
        guard await source.keys(for: nil) != nil else {
            throw JWTRefusal(reason: "jwks_unavailable", message: "the JSON Web Key Set cannot be read or fetched")
        }
    }

    /// How many times a ``JWTConfiguration/Keys/jwksURL(_:)`` was fetched so far.
    public var jwksFetchCount: Int {
        get async { await source.fetchCount() }
    }

    /// Whether `token` has the shape of a JWT: three non-empty base64url parts, dot-separated.
    /// Ferry's own tokens never do.
    public static func looksLikeJWT(_ token: String) -> Bool {
        let parts = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        return parts.count == 3 && parts.allSatisfy { part in !part.isEmpty && part.allSatisfy(isBase64URL) }
    }

    private static func isBase64URL(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }

    /// The algorithms the configured keys allow: HS256 for a shared secret, the asymmetric
    /// ones for a key set. `none` is never among them.
    private var allowedAlgorithms: Set<String> {
        switch configuration.keys {
        case .hs256: ["HS256"]
        case .jwksFile, .jwksURL: ["RS256", "RS384", "RS512", "ES256", "ES384"]
        }
    }

    /// The scope of a valid JWT: the spaces of its claim, under the grant id `jwt:<sub>`.
    /// - Throws: ``JWTRefusal`` for any token that is not acceptable.
    public func scope(for token: String) async throws(JWTRefusal) -> TokenScope {
        try await verify(token).get()
    }

    /// The scope of a valid JWT, or why it is refused: ``scope(for:)`` as a value.
    public func verify(_ token: String) async -> Result<TokenScope, JWTRefusal> {
        do {
            return .success(try await verifiedScope(token))
        } catch let refusal as JWTRefusal {
            return .failure(refusal)
        } catch {
            return .failure(JWTRefusal(reason: "jwt_invalid", message: "the token cannot be verified"))
        }
    }

    private func verifiedScope(_ token: String) async throws -> TokenScope {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Self.base64URLDecoded(parts[0]),
            let header = try? JSONSerialization.jsonObject(with: headerBytes) as? [String: Any],
            let payloadBytes = Self.base64URLDecoded(parts[1]),
            let claims = try? JSONSerialization.jsonObject(with: payloadBytes) as? [String: Any]
        else { throw JWTRefusal(reason: "jwt_invalid", message: "the token is not a well-formed JWT") }

        guard let algorithm = header["alg"] as? String, allowedAlgorithms.contains(algorithm) else {
            throw JWTRefusal(reason: "jwt_invalid", message: "the token's algorithm is not accepted")
        }
        let keyID: String?
        switch header["kid"] {
        case nil: keyID = nil
        case let id as String: keyID = id
        default: throw JWTRefusal(reason: "jwt_invalid", message: "the token's kid is not a string")
        }
        guard let keys = await source.keys(for: keyID) else {
            throw JWTRefusal(reason: "jwks_unavailable", message: "the keys to verify the token cannot be had now")
        }
        if !keys.keyIDs.isEmpty {
            // A key set: the token names one of its keys, or the set holds a single key.
            if let keyID {
                guard keys.keyIDs.contains(keyID) else {
                    throw JWTRefusal(reason: "jwt_unknown_key", message: "the token names a key that is not known")
                }
            } else if keys.keyIDs.count != 1 {
                throw JWTRefusal(reason: "jwt_invalid", message: "the token names no key (kid)")
            }
        }
        do {
            let kid: JWKIdentifier? = keys.keyIDs.isEmpty ? nil : (keyID ?? keys.keyIDs.first).map { JWKIdentifier(string: $0) }
            // No algorithm confusion: the key verifies only with the algorithm it is for.
            let key = try await keys.collection.getKey(for: kid, alg: algorithm)
            guard key.name == algorithm else {
                throw JWTRefusal(reason: "jwt_invalid", message: "the token's algorithm does not match its key")
            }
            _ = try await keys.collection.verify(token, as: SignatureOnly.self)
        } catch let refusal as JWTRefusal {
            throw refusal
        } catch {
            throw JWTRefusal(reason: "jwt_invalid", message: "the token's signature does not verify")
        }
        return try check(claims)
    }

    /// The claims' checks, once the signature verified.
    private func check(_ claims: [String: Any]) throws -> TokenScope {
        let now = Double(clock.nowMilliseconds()) / 1000
        let leeway = Double(configuration.leeway.wholeMilliseconds) / 1000
        guard let expires = Self.number(claims["exp"]) else {
            throw JWTRefusal(reason: "jwt_invalid", message: "the token has no expiry (exp)")
        }
        guard now <= expires + leeway else { throw JWTRefusal(reason: "jwt_expired", message: "the token has expired") }
        if claims["nbf"] != nil {
            guard let notBefore = Self.number(claims["nbf"]) else {
                throw JWTRefusal(reason: "jwt_invalid", message: "the token's nbf is not a number")
            }
            guard now + leeway >= notBefore else {
                throw JWTRefusal(reason: "jwt_not_yet_valid", message: "the token is not valid yet (nbf)")
            }
        }
        if let issuer = configuration.issuer, claims["iss"] as? String != issuer {
            throw JWTRefusal(reason: "jwt_wrong_issuer", message: "the token's issuer is not the configured one")
        }
        if let audience = configuration.audience {
            let audiences: [String] =
                switch claims["aud"] {
                case let single as String: [single]
                case let list as [Any]: list.compactMap { $0 as? String }
                default: []
                }
            guard audiences.contains(audience) else {
                throw JWTRefusal(reason: "jwt_wrong_audience", message: "the token is not meant for this server (aud)")
            }
        }
        guard let subject = claims["sub"] as? String, !subject.isEmpty else {
            throw JWTRefusal(reason: "jwt_invalid", message: "the token names no subject (sub)")
        }
        guard let list = claims[configuration.spacesClaim] as? [Any], !list.isEmpty,
            list.count <= AdminTokenRequest.maxSpaces
        else {
            throw JWTRefusal(reason: "jwt_spaces", message: "the token's \(configuration.spacesClaim) claim is not a list of spaces")
        }
        var spaces = Set<String>()
        for item in list {
            guard let space = item as? String, ProtocolRules.isValidSpace(space) else {
                throw JWTRefusal(reason: "jwt_spaces", message: "the token's \(configuration.spacesClaim) claim names a bad space")
            }
            spaces.insert(space)
        }
        return TokenScope(grantID: "jwt:\(subject)", spaces: spaces)
    }

    /// A JSON number (not a boolean) as a `Double`.
    private static func number(_ value: Any?) -> Double? {
        guard let value, !(value is Bool) else { return nil }
        switch value {
        case let number as Int: return Double(number)
        case let number as Double: return number
        case let number as NSNumber: return number.doubleValue
        default: return nil
        }
    }

    private static func base64URLDecoded(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}

/// A JWT the server did not accept, and why.
public struct JWTRefusal: Error, Sendable, CustomStringConvertible {
    /// The reason, as `ferry_auth_failures_total{reason}` counts it: `jwt_invalid`,
    /// `jwt_expired`, `jwt_not_yet_valid`, `jwt_wrong_issuer`, `jwt_wrong_audience`,
    /// `jwt_unknown_key`, `jwt_spaces`, `jwks_unavailable`; more may come.
    public var reason: String
    /// What was wrong, for the `401` answer; never the token.
    public var message: String

    /// Creates a refusal.
    public init(reason: String, message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { "\(reason): \(message)" }
}

/// The payload JWTKit decodes while it checks the signature: nothing, since the claims are
/// checked by ``JWTAuthenticator`` against its own clock and configuration.
private struct SignatureOnly: JWTPayload {
    init(from decoder: any Decoder) throws {}
    func encode(to encoder: any Encoder) throws {}
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
