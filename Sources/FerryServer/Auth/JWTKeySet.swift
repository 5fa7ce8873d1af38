import FerryCore
import Foundation
import JWTKit

/// One version of the verification keys: a key collection and the key ids it holds.
struct JWTKeySet: Sendable {
    /// The keys, as JWTKit verifies with them.
    var collection: JWTKeyCollection
    /// The `kid` of every key; empty for a shared secret.
    var keyIDs: Set<String>

    /// The keys of a JSON Web Key Set; a key without `kid` or of a kind JWTKit cannot use
    /// makes the whole set invalid, so that a broken file or answer is noticed, not half used.
    static func parse(jwks data: Data) async throws -> JWTKeySet {
        let jwks = try JSONDecoder().decode(JWKS.self, from: data)
        let collection = JWTKeyCollection()
        var ids = Set<String>()
        for key in jwks.keys {
            guard let id = key.keyIdentifier?.string else { throw JWKSError(message: "a key of the JWKS has no kid") }
            try await collection.add(jwk: key)
            ids.insert(id)
        }
        guard !ids.isEmpty else { throw JWKSError(message: "the JWKS holds no key") }
        return JWTKeySet(collection: collection, keyIDs: ids)
    }

    /// The key of an HS256 shared secret.
    static func hs256(secret: [UInt8]) async -> JWTKeySet {
        let collection = JWTKeyCollection()
        await collection.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return JWTKeySet(collection: collection, keyIDs: [])
    }
}

/// A JSON Web Key Set that could not be read, fetched or used.
struct JWKSError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
