/// A member name being read by ``JSONReader/readMembers(_:)``: compared with names without
/// making a `String`, valid only during the call that received it.
package struct JSONKey {
    /// The name's bytes as written, when it is plain ASCII without escapes.
    let raw: UnsafeRawBufferPointer
    /// The name, when it has escapes or non-ASCII characters.
    let decoded: String?

    /// The name as a string.
    package var string: String { decoded ?? String(decoding: raw, as: UTF8.self) }

    /// Whether the name is `name`.
    package static func == (key: JSONKey, name: StaticString) -> Bool {
        let count = name.utf8CodeUnitCount
        guard let decoded = key.decoded else {
            guard key.raw.count == count else { return false }
            let start = name.utf8Start
            for index in 0..<count where key.raw[index] != start[index] { return false }
            return true
        }
        return decoded == name.description
    }

    /// Matches a name in a `switch` over keys.
    package static func ~= (name: StaticString, key: JSONKey) -> Bool {
        key == name
    }
}
