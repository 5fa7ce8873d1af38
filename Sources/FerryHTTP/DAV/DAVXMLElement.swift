import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// An XML element read with namespace processing: matched on its namespace URI and local
/// name, whatever prefix the server chose.
struct DAVXMLElement: Sendable {
    /// The namespace URI, empty when the element has none.
    var namespace: String
    /// The local name, without prefix.
    var name: String
    /// The element's own character data (text and CDATA sections, entities resolved), not
    /// trimmed.
    var text: String
    /// The child elements, in document order.
    var children: [DAVXMLElement]

    /// The `DAV:` namespace.
    static let dav = "DAV:"

    /// Whether the element is `name` in `namespace`.
    func `is`(_ namespace: String, _ name: String) -> Bool {
        self.namespace == namespace && self.name == name
    }

    /// The children that are `name` in `namespace`.
    func children(_ namespace: String, _ name: String) -> [DAVXMLElement] {
        children.filter { $0.is(namespace, name) }
    }

    /// The first child that is `name` in `namespace`.
    func child(_ namespace: String, _ name: String) -> DAVXMLElement? {
        children.first { $0.is(namespace, name) }
    }

    /// Whether the element or any element below it is `name` in `namespace`.
    func contains(_ namespace: String, _ name: String) -> Bool {
        `is`(namespace, name) || children.contains { $0.contains(namespace, name) }
    }

    /// The text without the white space around it (pretty-printed answers indent values).
    var trimmedText: String {
        text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Parses `data` as XML with namespace processing on and external entities off, and
    /// answers its root element.
    ///
    /// - Throws: ``DAVXMLError`` when `data` is not well-formed XML.
    static func parse(_ data: Data) throws -> DAVXMLElement {
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = true
        parser.shouldReportNamespacePrefixes = false
        parser.shouldResolveExternalEntities = false
        let builder = TreeBuilder()
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else {
            let reason = parser.parserError.map { "\($0)" } ?? "no root element"
            throw DAVXMLError(message: "the answer is not well-formed XML: \(reason)")
        }
        return root
    }

    /// Builds the tree from the parser's events.
    private final class TreeBuilder: NSObject, XMLParserDelegate {
        var stack: [DAVXMLElement] = []
        var root: DAVXMLElement?

        func parser(
            _ parser: XMLParser,
            didStartElement elementName: String,
            namespaceURI: String?,
            qualifiedName qName: String?,
            attributes attributeDict: [String: String] = [:]
        ) {
            stack.append(DAVXMLElement(namespace: namespaceURI ?? "", name: elementName, text: "", children: []))
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
            guard let element = stack.popLast() else { return }
            if stack.isEmpty {
                root = element
            } else {
                stack[stack.count - 1].children.append(element)
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += string
        }

        func parser(_ parser: XMLParser, foundCDATA block: Data) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += String(decoding: block, as: UTF8.self)
        }
    }
}

/// XML that could not be read.
struct DAVXMLError: Error, CustomStringConvertible {
    /// What went wrong.
    var message: String

    var description: String { message }
}

extension String {
    /// The string escaped for XML character data and attribute values.
    var xmlEscaped: String {
        var out = ""
        out.reserveCapacity(utf8.count)
        for character in unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\r": out += "&#13;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// The text with the carriage returns restored that XML's line-end normalization
    /// removed: every line feed not preceded by a carriage return becomes CR LF.
    ///
    /// An XML parser turns CR LF (and a lone CR) into LF in character data (XML 1.0 §2.11),
    /// while iCalendar and vCard text ends its lines with CR LF (RFC 5545 §3.1, RFC 6350
    /// §3.2), so this gives back the text the server stored. A CR the server escaped as
    /// `&#13;` survives the parser and is kept as it is.
    var restoringCRLF: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count + utf8.count / 32)
        var previous: UInt8 = 0
        for byte in utf8 {
            if byte == UInt8(ascii: "\n") && previous != UInt8(ascii: "\r") {
                bytes.append(UInt8(ascii: "\r"))
            }
            bytes.append(byte)
            previous = byte
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
