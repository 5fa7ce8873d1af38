/// A forward-only reader of JSON text (RFC 8259), byte by byte, with no intermediate tree.
///
/// Ferry's wire messages are read with it field by field, which is several times faster
/// than `JSONDecoder`; a ``JSONValue`` is read in one pass. Strings are checked to be valid
/// UTF-8, escapes are decoded (surrogate pairs included), numbers that are whole and fit in
/// 64 bits are read as integers, exactly. Use it through ``withReader(_:_:)``, which keeps the bytes
/// alive while it reads; a reader must not be kept after its closure returns.
package struct JSONReader {
    @usableFromInline let bytes: UnsafeRawBufferPointer
    /// The offset of the next byte to read.
    package private(set) var offset: Int
    /// Nesting depth of arrays and objects, bounded so that hostile input cannot exhaust the stack.
    private var depth = 0
    private static let maxDepth = 512

    private init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.offset = 0
    }

    /// Runs `body` with a reader over `bytes`, and checks that nothing but whitespace follows
    /// what it read.
    package static func withReader<T>(
        _ bytes: some Collection<UInt8>,
        _ body: (inout JSONReader) throws -> T
    ) throws -> T {
        func run(_ buffer: UnsafeRawBufferPointer) throws -> T {
            var reader = JSONReader(bytes: buffer)
            let value = try body(&reader)
            try reader.expectEnd()
            return value
        }
        if let result = try bytes.withContiguousStorageIfAvailable({ try run(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return try Array(bytes).withUnsafeBytes(run)
    }

    // MARK: Errors

    /// An error about the value being read, at the current offset. The keys and indexes that
    /// lead to it are added as the error leaves ``readObject(_:)`` and ``readArray(_:)``, so
    /// reading pays nothing for them until something is wrong.
    package func error(_ problem: String) -> JSONReadError {
        JSONReadError(problem, offset: offset)
    }

    /// The error for a member `key` that the object just read lacks.
    package func missing(_ key: String) -> JSONReadError {
        JSONReadError("is required", path: [key], offset: offset)
    }

    private func syntaxError(_ what: String) -> JSONReadError {
        if offset >= bytes.count {
            return JSONReadError("is not valid JSON: \(what), found the end of the text", offset: offset)
        }
        let byte = bytes[offset]
        let shown = byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
        return JSONReadError("is not valid JSON: \(what), found \(shown) at byte \(offset)", offset: offset)
    }

    // MARK: Tokens

    @inline(__always)
    private mutating func skipWhitespace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x0A, 0x0D, 0x09: offset += 1
            default: return
            }
        }
    }

    /// The first byte of the next value, after whitespace; throws at the end of the text.
    @inline(__always)
    private mutating func peek() throws -> UInt8 {
        skipWhitespace()
        guard offset < bytes.count else { throw syntaxError("expected a value") }
        return bytes[offset]
    }

    @inline(__always)
    private mutating func consume(_ byte: UInt8, _ what: @autoclosure () -> String) throws {
        skipWhitespace()
        guard offset < bytes.count, bytes[offset] == byte else { throw syntaxError(what()) }
        offset += 1
    }

    private mutating func consumeLiteral(_ literal: StaticString) throws {
        let count = literal.utf8CodeUnitCount
        guard offset + count <= bytes.count else { throw syntaxError("expected \(literal)") }
        let start = literal.utf8Start
        for index in 0..<count where bytes[offset + index] != start[index] {
            throw syntaxError("expected \(literal)")
        }
        offset += count
    }

    /// Checks that only whitespace is left.
    private mutating func expectEnd() throws {
        skipWhitespace()
        guard offset == bytes.count else { throw syntaxError("expected the end of the text") }
    }

    // MARK: Typed reads

    /// Consumes a `null` and answers `true`, or answers `false` and consumes nothing.
    package mutating func readNull() throws -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        try consumeLiteral("null")
        return true
    }

    /// Reads a string.
    package mutating func readString() throws -> String {
        guard try peek() == UInt8(ascii: "\"") else { throw kindError("a string") }
        return try scanString()
    }

    /// Reads a string, or `nil` for `null`.
    package mutating func readOptionalString() throws -> String? {
        try readNull() ? nil : readString()
    }

    /// Reads a whole number that fits in 64 bits (`3`, also `3.0` or `3e0`).
    package mutating func readInt64() throws -> Int64 {
        let first = try peek()
        guard first == UInt8(ascii: "-") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else {
            throw kindError("an integer")
        }
        let start = offset
        guard case .int(let value) = try scanNumber() else {
            offset = start
            throw error("must be an integer")
        }
        return value
    }

    /// Reads an integer, or `nil` for `null`.
    package mutating func readOptionalInt64() throws -> Int64? {
        try readNull() ? nil : readInt64()
    }

    /// Reads `true` or `false`.
    package mutating func readBool() throws -> Bool {
        switch try peek() {
        case UInt8(ascii: "t"):
            try consumeLiteral("true")
            return true
        case UInt8(ascii: "f"):
            try consumeLiteral("false")
            return false
        default:
            throw kindError("a boolean")
        }
    }

    /// Reads an object, calling `member` with each key; `member` must read the value.
    package mutating func readObject(_ member: (inout JSONReader, String) throws -> Void) throws {
        try readMembers { reader, key in try member(&reader, key.string) }
    }

    /// Reads an object, calling `member` with each key as it is in the text, matched against
    /// names without making a `String` of it (`case "seq":` in a `switch`); `member` must read
    /// the value. The key is valid only during the call.
    package mutating func readMembers(_ member: (inout JSONReader, JSONKey) throws -> Void) throws {
        guard try peek() == UInt8(ascii: "{") else { throw kindError("an object") }
        try enter()
        offset += 1
        if try peek() == UInt8(ascii: "}") {
            offset += 1
            depth -= 1
            return
        }
        while true {
            guard try peek() == UInt8(ascii: "\"") else { throw syntaxError("expected a member name") }
            let key = try scanKey()
            try consume(UInt8(ascii: ":"), "expected ':' after a member name")
            do {
                try member(&self, key)
            } catch var error as JSONReadError {
                error.path.insert(key.string, at: 0)
                throw error
            }
            switch try peek() {
            case UInt8(ascii: ","):
                offset += 1
            case UInt8(ascii: "}"):
                offset += 1
                depth -= 1
                return
            default:
                throw syntaxError("expected ',' or '}' in an object")
            }
        }
    }

    /// Reads a member name: its bytes as written when they are plain ASCII, else decoded.
    private mutating func scanKey() throws -> JSONKey {
        let (end, escaped, ascii) = try scanStringEnd()
        if !escaped && ascii {
            let key = JSONKey(raw: UnsafeRawBufferPointer(rebasing: bytes[(offset + 1)..<end]), decoded: nil)
            offset = end + 1
            return key
        }
        return JSONKey(raw: UnsafeRawBufferPointer(start: nil, count: 0), decoded: try scanString())
    }

    /// Reads an array, calling `element` for each element with its index; `element` must
    /// read the value.
    package mutating func readArray(_ element: (inout JSONReader, Int) throws -> Void) throws {
        guard try peek() == UInt8(ascii: "[") else { throw kindError("an array") }
        try enter()
        offset += 1
        if try peek() == UInt8(ascii: "]") {
            offset += 1
            depth -= 1
            return
        }
        var index = 0
        while true {
            do {
                try element(&self, index)
            } catch var error as JSONReadError {
                error.path.insert("[\(index)]", at: 0)
                throw error
            }
            index += 1
            switch try peek() {
            case UInt8(ascii: ","):
                offset += 1
            case UInt8(ascii: "]"):
                offset += 1
                depth -= 1
                return
            default:
                throw syntaxError("expected ',' or ']' in an array")
            }
        }
    }

    /// Reads any value.
    package mutating func readValue() throws -> JSONValue {
        switch try peek() {
        case UInt8(ascii: "{"):
            var members: [String: JSONValue] = [:]
            try readObject { reader, key in members[key] = try reader.readValue() }
            return .object(members)
        case UInt8(ascii: "["):
            var elements: [JSONValue] = []
            try readArray { reader, _ in elements.append(try reader.readValue()) }
            return .array(elements)
        case UInt8(ascii: "\""):
            return .string(try scanString())
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            return .bool(try readBool())
        case UInt8(ascii: "n"):
            try consumeLiteral("null")
            return .null
        default:
            return try scanNumber()
        }
    }

    /// Reads any value and answers its text without insignificant whitespace (the exact
    /// bytes of the document otherwise: member order, escapes and number spelling are kept).
    /// The value is fully checked, as ``readValue()`` would.
    package mutating func readCompactText() throws -> [UInt8] {
        _ = try peek()
        var out: [UInt8] = []
        out.reserveCapacity(256)
        try copyValue(into: &out)
        return out
    }

    private mutating func copyValue(into out: inout [UInt8]) throws {
        let first = try peek()
        switch first {
        case UInt8(ascii: "{"):
            out.append(first)
            try enter()
            offset += 1
            if try peek() == UInt8(ascii: "}") {
                offset += 1
            } else {
                while true {
                    guard try peek() == UInt8(ascii: "\"") else { throw syntaxError("expected a member name") }
                    try copyString(into: &out)
                    try consume(UInt8(ascii: ":"), "expected ':' after a member name")
                    out.append(UInt8(ascii: ":"))
                    try copyValue(into: &out)
                    let next = try peek()
                    if next == UInt8(ascii: ",") {
                        out.append(next)
                        offset += 1
                    } else if next == UInt8(ascii: "}") {
                        offset += 1
                        break
                    } else {
                        throw syntaxError("expected ',' or '}' in an object")
                    }
                }
            }
            depth -= 1
            out.append(UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            out.append(first)
            try enter()
            offset += 1
            if try peek() == UInt8(ascii: "]") {
                offset += 1
            } else {
                while true {
                    try copyValue(into: &out)
                    let next = try peek()
                    if next == UInt8(ascii: ",") {
                        out.append(next)
                        offset += 1
                    } else if next == UInt8(ascii: "]") {
                        offset += 1
                        break
                    } else {
                        throw syntaxError("expected ',' or ']' in an array")
                    }
                }
            }
            depth -= 1
            out.append(UInt8(ascii: "]"))
        case UInt8(ascii: "\""):
            try copyString(into: &out)
        default:
            let start = offset
            _ = try readValue()  // a literal or a number: short, checked by reading it
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]))
        }
    }

    /// Skips any value, checking it.
    package mutating func skipValue() throws {
        switch try peek() {
        case UInt8(ascii: "{"):
            try readObject { reader, _ in try reader.skipValue() }
        case UInt8(ascii: "["):
            try readArray { reader, _ in try reader.skipValue() }
        case UInt8(ascii: "\""):
            try skipString()
        default:
            _ = try readValue()
        }
    }

    // MARK: Scanners

    private mutating func enter() throws {
        depth += 1
        guard depth <= Self.maxDepth else { throw error("nests arrays and objects more than \(Self.maxDepth) deep") }
    }

    private func kindError(_ kind: String) -> JSONReadError {
        let byte = bytes[offset]
        let isValueStart =
            byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "t")
            || byte == UInt8(ascii: "f") || byte == UInt8(ascii: "n") || byte == UInt8(ascii: "-")
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
        guard isValueStart else { return syntaxError("expected a value") }
        return error(byte == UInt8(ascii: "n") ? "must be \(kind), not null" : "must be \(kind)")
    }

    /// The end of the string that starts at `offset` (on its opening quote), and whether it
    /// holds escapes or non-ASCII bytes; checks control characters.
    @inline(__always)
    private func scanStringEnd() throws -> (end: Int, escaped: Bool, ascii: Bool) {
        var index = offset + 1
        var escaped = false
        var ascii = true
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { return (index, escaped, ascii) }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                index += 2
                continue
            }
            if byte < 0x20 {
                throw JSONReadError(
                    "is not valid JSON: control characters must be escaped in a string, found byte 0x\(String(byte, radix: 16)) at byte \(index)",
                    offset: index
                )
            }
            if byte >= 0x80 { ascii = false }
            index += 1
        }
        throw JSONReadError("is not valid JSON: a string is not closed", offset: offset)
    }

    private mutating func scanString() throws -> String {
        let (end, escaped, ascii) = try scanStringEnd()
        let content = UnsafeRawBufferPointer(rebasing: bytes[(offset + 1)..<end])
        if !escaped {
            let text: String
            if ascii {
                text = String(decoding: content, as: UTF8.self)
            } else {
                guard let valid = String(validating: content, as: UTF8.self) else {
                    throw error("is not valid UTF-8")
                }
                text = valid
            }
            offset = end + 1
            return text
        }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(content.count)
        try unescape(upTo: end, into: &decoded)
        guard let text = String(validating: decoded, as: UTF8.self) else { throw error("is not valid UTF-8") }
        offset = end + 1
        return text
    }

    private mutating func skipString() throws {
        let (end, escaped, ascii) = try scanStringEnd()
        if escaped {
            var scratch: [UInt8] = []
            try unescape(upTo: end, into: &scratch)
            guard String(validating: scratch, as: UTF8.self) != nil else { throw error("is not valid UTF-8") }
        } else if !ascii {
            guard String(validating: UnsafeRawBufferPointer(rebasing: bytes[(offset + 1)..<end]), as: UTF8.self) != nil else {
                throw error("is not valid UTF-8")
            }
        }
        offset = end + 1
    }

    /// Copies the string at `offset` as written (escapes kept), after checking it.
    private mutating func copyString(into out: inout [UInt8]) throws {
        let start = offset
        try skipString()
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]))
    }

    /// Decodes the escapes of the string whose content starts after the quote at `offset`
    /// and ends before `end`.
    private func unescape(upTo end: Int, into out: inout [UInt8]) throws {
        var index = offset + 1
        while index < end {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                index += 1
                continue
            }
            guard index + 1 < end else { throw JSONReadError("is not valid JSON: a bad escape at byte \(index)", offset: index) }
            let escape = bytes[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(at: index, end: end)
                index += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    // A high surrogate must be followed by an escaped low one.
                    guard index + 6 <= end, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                        throw JSONReadError("is not valid JSON: a lone surrogate at byte \(index - 6)", offset: index - 6)
                    }
                    let low = try hex4(at: index + 2, end: end)
                    guard (0xDC00...0xDFFF).contains(low) else {
                        throw JSONReadError("is not valid JSON: a lone surrogate at byte \(index - 6)", offset: index - 6)
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw JSONReadError("is not valid JSON: a lone surrogate at byte \(index - 6)", offset: index - 6)
                }
                out.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
            default:
                throw JSONReadError("is not valid JSON: a bad escape at byte \(index - 2)", offset: index - 2)
            }
        }
    }

    private func hex4(at index: Int, end: Int) throws -> UInt32 {
        guard index + 4 <= end else { throw JSONReadError("is not valid JSON: a bad \\u escape at byte \(index - 2)", offset: index) }
        var value: UInt32 = 0
        for position in index..<(index + 4) {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw JSONReadError("is not valid JSON: a bad \\u escape at byte \(index - 2)", offset: index)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Reads a number: `int` when it is a whole number that fits in 64 bits.
    private mutating func scanNumber() throws -> JSONValue {
        let start = offset
        var index = offset
        func isDigit(_ at: Int) -> Bool { at < bytes.count && bytes[at] >= UInt8(ascii: "0") && bytes[at] <= UInt8(ascii: "9") }
        let negative = index < bytes.count && bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard isDigit(index) else { throw syntaxError("expected a value") }
        var integer: Int64 = 0
        var overflow = false
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while isDigit(index) {
                let digit = Int64(bytes[index] - UInt8(ascii: "0"))
                // Accumulate negatively: Int64.min has no positive counterpart.
                let (times10, o1) = integer.multipliedReportingOverflow(by: 10)
                let (next, o2) = times10.subtractingReportingOverflow(digit)
                if o1 || o2 { overflow = true }
                integer = next
                index += 1
            }
        }
        var isInteger = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard isDigit(index) else {
                offset = index
                throw syntaxError("expected a digit after '.'")
            }
            while isDigit(index) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard isDigit(index) else {
                offset = index
                throw syntaxError("expected a digit in an exponent")
            }
            while isDigit(index) { index += 1 }
        }
        offset = index
        if isInteger && !overflow {
            if negative { return .int(integer) }
            if integer != Int64.min { return .int(-integer) }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text) else {
            offset = start
            throw syntaxError("expected a number")
        }
        // Beyond a double (`1e999`): infinity could only be written back as `null`.
        guard value.isFinite else {
            offset = start
            throw JSONReadError("is not valid JSON: the number at byte \(start) is too large for a double", offset: start)
        }
        // As Foundation's decoder does: a number written with a fraction or an exponent that is
        // a whole 64-bit integer (`3.0`, `1e3`) is that integer.
        if !isInteger, let whole = Int64(exactly: value) { return .int(whole) }
        return .double(value)
    }
}

extension JSONValue {
    /// Reads a JSON text (RFC 8259) as a value.
    /// - Throws: ``JSONReadError`` when it is not valid JSON.
    public init(parsing bytes: some Collection<UInt8>) throws {
        self = try JSONReader.withReader(bytes) { try $0.readValue() }
    }

    /// Reads a JSON text (RFC 8259) as a value.
    /// - Throws: ``JSONReadError`` when it is not valid JSON.
    public init(parsing text: String) throws {
        var text = text
        self = try text.withUTF8 { try JSONReader.withReader($0) { try $0.readValue() } }
    }
}
