import Crypto
import FerryCore
import Foundation
import _CryptoExtras

/// A signing key a test makes, and the JWTs it signs by hand: header and claims exactly as
/// the test writes them, so that a test can make any token an attacker could.
struct JWTTestKey: Sendable {
    enum Material: Sendable {
        case hmac([UInt8])
        case p256(P256.Signing.PrivateKey)
        case rsa(_RSA.Signing.PrivateKey)
    }

    var kid: String?
    var material: Material

    static func hs256(_ secret: String = "a-test-secret-of-more-than-32-bytes!!") -> JWTTestKey {
        JWTTestKey(kid: nil, material: .hmac(Array(secret.utf8)))
    }

    static func es256(kid: String) -> JWTTestKey {
        JWTTestKey(kid: kid, material: .p256(P256.Signing.PrivateKey()))
    }

    static func rs256(kid: String) throws -> JWTTestKey {
        JWTTestKey(kid: kid, material: .rsa(try _RSA.Signing.PrivateKey(keySize: .bits2048)))
    }

    /// The algorithm the key signs with.
    var algorithm: String {
        switch material {
        case .hmac: "HS256"
        case .p256: "ES256"
        case .rsa: "RS256"
        }
    }

    /// The public key as a JWK (`nil` for a shared secret).
    var jwk: [String: String]? {
        switch material {
        case .hmac:
            return nil
        case .p256(let key):
            let raw = key.publicKey.rawRepresentation
            return [
                "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid ?? "",
                "x": Self.base64URL(raw.prefix(32)), "y": Self.base64URL(raw.suffix(32)),
            ]
        case .rsa(let key):
            guard let primitives = try? key.publicKey.getKeyPrimitives() else { return nil }
            return [
                "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid ?? "",
                "n": Self.base64URL(primitives.modulus), "e": Self.base64URL(primitives.publicExponent),
            ]
        }
    }

    /// A JWKS of `keys`, as JSON.
    static func jwks(_ keys: [JWTTestKey]) -> Data {
        try! JSONSerialization.data(withJSONObject: ["keys": keys.compactMap(\.jwk)], options: [.sortedKeys])
    }

    /// A JWT of `claims`, its header naming this key's algorithm and kid unless `header` says
    /// otherwise (a `NSNull` value leaves a field out).
    func sign(_ claims: [String: Any], header: [String: Any] = [:]) throws -> String {
        var fields: [String: Any] = ["typ": "JWT", "alg": algorithm]
        if let kid { fields["kid"] = kid }
        for (name, value) in header { fields[name] = value is NSNull ? nil : value }
        let input =
            Self.base64URL(try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) + "."
            + Self.base64URL(try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]))
        return input + "." + Self.base64URL(try signature(of: Data(input.utf8)))
    }

    private func signature(of input: Data) throws -> Data {
        switch material {
        case .hmac(let secret):
            return Data(HMAC<SHA256>.authenticationCode(for: input, using: SymmetricKey(data: secret)))
        case .p256(let key):
            return try key.signature(for: input).rawRepresentation
        case .rsa(let key):
            return try key.signature(for: input, padding: .insecurePKCS1v1_5).rawRepresentation
        }
    }

    static func base64URL(_ data: some DataProtocol) -> String {
        Data(data).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
