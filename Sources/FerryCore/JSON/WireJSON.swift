/// A value with a hand-written JSON form, written by ``JSONWriter``.
///
/// The wire messages of the hot paths (push and pull) conform, so that the server and the
/// HTTP transport encode them without `JSONEncoder`. The text is the same JSON their
/// `Codable` form describes: the same member names, optional members left out when `nil`.
package protocol JSONWritable {
    /// Writes the value as one JSON value.
    func writeJSON(to writer: inout JSONWriter)
}

/// A value read from its JSON form by ``JSONReader``, as its `Codable` form reads it:
/// unknown members are ignored, `null` is the same as absent for optional members.
package protocol JSONReadable {
    /// Reads the value from the reader's next JSON value.
    /// - Throws: ``JSONReadError`` naming the member that is missing or ill-typed.
    init(json reader: inout JSONReader) throws
}

extension JSONWritable {
    /// The compact JSON text of the value, UTF-8.
    package func jsonBytes() -> [UInt8] {
        var writer = JSONWriter(capacity: 512)
        writeJSON(to: &writer)
        return writer.bytes
    }
}

extension JSONReadable {
    /// Reads the value from a whole JSON text.
    /// - Throws: ``JSONReadError`` when the text is not valid JSON, or not this value.
    package init(jsonBytes bytes: some Collection<UInt8>) throws {
        self = try JSONReader.withReader(bytes) { try Self(json: &$0) }
    }
}

extension JSONReader {
    /// Reads an array of values.
    package mutating func readArray<T: JSONReadable>(of type: T.Type) throws -> [T] {
        var elements: [T] = []
        try readArray { reader, _ in elements.append(try T(json: &reader)) }
        return elements
    }
}

extension JSONWriter {
    /// Writes an array of values.
    package mutating func array(_ elements: [some JSONWritable]) {
        byte(UInt8(ascii: "["))
        for (index, element) in elements.enumerated() {
            if index > 0 { byte(UInt8(ascii: ",")) }
            element.writeJSON(to: &self)
        }
        byte(UInt8(ascii: "]"))
    }
}
