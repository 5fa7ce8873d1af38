/// Writes compact JSON text (RFC 8259) into a byte array, value by value.
///
/// Ferry's wire messages are written with it member by member, which is several times
/// faster than `JSONEncoder`. The writer does not check the structure: callers open and close
/// objects and arrays and put the commas (``comma()``) themselves.
@usableFromInline
package struct JSONWriter: Sendable {
    /// The text written so far, UTF-8.
    @usableFromInline
    package var bytes: [UInt8]
    /// Whether a non-finite double (infinity, NaN) was written, as `null`: JSON cannot hold it.
    package private(set) var wroteNonFiniteNumber = false

    /// Creates an empty writer with room for `capacity` bytes.
    package init(capacity: Int = 1024) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Writes one byte of structure, such as `{`, `}`, `[`, `]`, `,` or `:`.
    @inlinable
    package mutating func byte(_ byte: UInt8) {
        bytes.append(byte)
    }

    /// Writes `"name":`, with `,` before it unless `first`.
    @inlinable
    package mutating func key(_ name: StaticString, first: Bool = false) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// Writes text that is already valid JSON, unchanged.
    @inlinable
    package mutating func raw(_ text: some Sequence<UInt8>) {
        bytes.append(contentsOf: text)
    }

    /// Writes `null`.
    package mutating func null() {
        bytes.append(contentsOf: Self.nullText)
    }

    /// Writes `true` or `false`.
    package mutating func bool(_ value: Bool) {
        if value {
            bytes.append(contentsOf: Self.trueText)
        } else {
            bytes.append(contentsOf: Self.falseText)
        }
    }

    /// Writes an integer in decimal.
    @usableFromInline
    package mutating func int(_ value: Int64) {
        if value >= 0 && value < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        // Digits from the end, in a small buffer on the stack.
        var magnitude = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            var index = 20
            repeat {
                index -= 1
                buffer[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 { bytes.append(UInt8(ascii: "-")) }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[index..<20]))
        }
    }

    /// Writes a double as the shortest text that reads back as the same number; non-finite
    /// values, which JSON cannot express, as `null` (and ``wroteNonFiniteNumber`` says so).
    package mutating func double(_ value: Double) {
        guard value.isFinite else {
            wroteNonFiniteNumber = true
            return null()
        }
        bytes.append(contentsOf: "\(value)".utf8)
    }

    /// Writes a string literal, escaping what RFC 8259 requires (quote, backslash and
    /// control characters); everything else is written as UTF-8.
    @usableFromInline
    package mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            bytes.append(UInt8(ascii: "\""))
            var clean = 0  // start of the run of bytes that need no escape
            for index in utf8.indices {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[clean..<index]))
                clean = index + 1
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                default:
                    bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                    bytes.append(Self.hexDigits[Int(byte >> 4)])
                    bytes.append(Self.hexDigits[Int(byte & 0x0F)])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[clean..<utf8.count]))
            bytes.append(UInt8(ascii: "\""))
        }
    }

    /// Writes a string, or `null` for `nil`.
    package mutating func string(_ value: String?) {
        if let value { string(value) } else { null() }
    }

    /// Writes any value; object members with sorted keys, so that equal values are written
    /// identically, unless `sortingKeys` is false (then in the dictionary's order, which is
    /// faster and reads back as the same value).
    package mutating func value(_ value: JSONValue, sortingKeys: Bool = true) {
        switch value {
        case .null: null()
        case .bool(let flag): bool(flag)
        case .int(let number): int(number)
        case .double(let number): double(number)
        case .string(let text): string(text)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                self.value(element, sortingKeys: sortingKeys)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            var first = true
            if sortingKeys {
                for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                    if !first { bytes.append(UInt8(ascii: ",")) }
                    first = false
                    string(key)
                    bytes.append(UInt8(ascii: ":"))
                    self.value(member, sortingKeys: true)
                }
            } else {
                for (key, member) in members {
                    if !first { bytes.append(UInt8(ascii: ",")) }
                    first = false
                    string(key)
                    bytes.append(UInt8(ascii: ":"))
                    self.value(member, sortingKeys: false)
                }
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
    private static let nullText: [UInt8] = Array("null".utf8)
    private static let trueText: [UInt8] = Array("true".utf8)
    private static let falseText: [UInt8] = Array("false".utf8)
}
