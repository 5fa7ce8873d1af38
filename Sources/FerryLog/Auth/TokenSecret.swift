import Crypto
import Foundation

/// Making and hashing token secrets.
package enum TokenSecret {
    /// The prefix of access tokens, so that a leaked token says what it is.
    package static let accessPrefix = "fat_"
    /// The prefix of refresh tokens.
    package static let refreshPrefix = "frt_"

    /// A new secret: the prefix and 32 random bytes, base64url without padding.
    package static func generate(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return prefix + base64URL(bytes)
    }

    /// The lowercase hex SHA-256 of a secret, the only form in which stores keep it.
    package static func hash(_ secret: String) -> String {
        SHA256.hash(data: Array(secret.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// A new grant id: `g_` and 12 random bytes, base64url.
    package static func grantID() -> String {
        var generator = SystemRandomNumberGenerator()
        return "g_" + base64URL((0..<12).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// Base64url without padding (RFC 4648 §5).
    package static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
