import FerryCore
import Foundation

/// Checks JSON values against the schemas of an OpenAPI 3.0 document: the subset of JSON
/// Schema that Ferry's document uses, and nothing silently skipped.
///
/// The document is the tree a YAML or JSON parser gives (`[String: Any]`, `[Any]`, `String`,
/// `Int`, `Double`, `Bool`). Supported keywords: `$ref` (local, `#/...`), `type`, `nullable`,
/// `enum`, `oneOf`, `anyOf`, `allOf`, `required`, `properties`, `additionalProperties`,
/// `items`, `minItems`, `maxItems`, `minLength`, `maxLength`, `pattern`, `minimum`, `maximum`,
/// `format` (`date-time` is checked; `int64` is what `.int` holds). A keyword it does not know
/// is reported as a problem, so that a schema never passes by being misunderstood.
///
/// It is stricter than JSON Schema in one way, on purpose: an object schema without
/// `additionalProperties` admits only the properties it lists, so that a member the server
/// sends and the document does not describe is found.
public struct OpenAPISchemaValidator {
    /// The whole document, for resolving `$ref`.
    public let document: [String: Any]

    private static let known: Set<String> = [
        "$ref", "type", "nullable", "enum", "oneOf", "anyOf", "allOf", "required", "properties", "additionalProperties",
        "items", "minItems", "maxItems", "minLength", "maxLength", "pattern", "minimum", "maximum", "format",
        "description", "default", "example", "title",
    ]

    public init(document: [String: Any]) {
        self.document = document
    }

    /// The value at a local reference such as `#/components/schemas/Error`.
    public func resolve(_ reference: String) -> Any? {
        guard reference.hasPrefix("#/") else { return nil }
        var node: Any? = document
        for component in reference.dropFirst(2).split(separator: "/") {
            let key = component.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            node = (node as? [String: Any])?[key]
        }
        return node
    }

    /// `node`, or what it refers to when it is `{$ref: ...}` (followed until it is not).
    public func dereference(_ node: Any?) -> [String: Any]? {
        var current = node as? [String: Any]
        var seen: Set<String> = []
        while let reference = current?["$ref"] as? String {
            guard seen.insert(reference).inserted else { return nil }
            current = resolve(reference) as? [String: Any]
        }
        return current
    }

    /// The problems of `value` against `schema`, each with the JSON path where it is (`$`
    /// for the value itself); empty when the value conforms.
    public func problems(of value: JSONValue, against schema: Any?, at path: String = "$") -> [String] {
        guard let raw = schema as? [String: Any] else { return ["\(path): the schema is not an object"] }
        if let reference = raw["$ref"] as? String {
            guard let target = resolve(reference) else { return ["\(path): unresolvable $ref \(reference)"] }
            return problems(of: value, against: target, at: path)
        }
        var found: [String] = []
        for keyword in raw.keys where !Self.known.contains(keyword) {
            found.append("\(path): the validator does not know the keyword '\(keyword)'")
        }
        if case .null = value, raw["nullable"] as? Bool == true { return found }

        if let type = raw["type"] as? String, !Self.value(value, hasType: type) {
            return found + ["\(path): expected \(type), found \(Self.kind(of: value))"]
        }
        if let options = raw["enum"] as? [Any], !options.contains(where: { Self.value(value, equals: $0) }) {
            found.append("\(path): \(Self.render(value)) is not one of \(options)")
        }
        if let alternatives = raw["oneOf"] as? [Any] {
            let matching = alternatives.filter { problems(of: value, against: $0, at: path).isEmpty }.count
            if matching != 1 { found.append("\(path): matches \(matching) of the oneOf schemas, not exactly one") }
        }
        if let alternatives = raw["anyOf"] as? [Any], !alternatives.contains(where: { problems(of: value, against: $0, at: path).isEmpty })
        {
            found.append("\(path): matches none of the anyOf schemas")
        }
        if let all = raw["allOf"] as? [Any] {
            for part in all { found += problems(of: value, against: part, at: path) }
        }

        switch value {
        case .object(let members):
            let properties = raw["properties"] as? [String: Any] ?? [:]
            for name in raw["required"] as? [String] ?? [] where members[name] == nil {
                found.append("\(path): the required member '\(name)' is missing")
            }
            for (name, member) in members.sorted(by: { $0.key < $1.key }) {
                let memberPath = "\(path).\(name)"
                if let property = properties[name] {
                    found += problems(of: member, against: property, at: memberPath)
                } else if let additional = raw["additionalProperties"] {
                    if let allowed = additional as? Bool {
                        if !allowed { found.append("\(memberPath): not allowed by additionalProperties: false") }
                    } else {
                        found += problems(of: member, against: additional, at: memberPath)
                    }
                } else if raw["oneOf"] == nil && raw["anyOf"] == nil && raw["allOf"] == nil {
                    found.append("\(memberPath): the document does not describe this member")
                }
            }
        case .array(let elements):
            if let minimum = raw["minItems"] as? Int, elements.count < minimum {
                found.append("\(path): \(elements.count) items, fewer than \(minimum)")
            }
            if let maximum = raw["maxItems"] as? Int, elements.count > maximum {
                found.append("\(path): \(elements.count) items, more than \(maximum)")
            }
            if let items = raw["items"] {
                for (index, element) in elements.enumerated() {
                    found += problems(of: element, against: items, at: "\(path)[\(index)]")
                }
            }
        case .string(let text):
            if let minimum = raw["minLength"] as? Int, text.count < minimum {
                found.append("\(path): \(text.count) characters, fewer than \(minimum)")
            }
            if let maximum = raw["maxLength"] as? Int, text.count > maximum {
                found.append("\(path): \(text.count) characters, more than \(maximum)")
            }
            if let pattern = raw["pattern"] as? String {
                if let regex = try? NSRegularExpression(pattern: pattern) {
                    let range = NSRange(text.startIndex..., in: text)
                    if regex.firstMatch(in: text, range: range) == nil {
                        found.append("\(path): \(Self.render(value)) does not match \(pattern)")
                    }
                } else {
                    found.append("\(path): the pattern \(pattern) is not a regular expression")
                }
            }
            if raw["format"] as? String == "date-time", !Self.isDateTime(text) {
                found.append("\(path): \(Self.render(value)) is not an RFC 3339 date-time")
            }
        case .int, .double:
            let number: Double
            switch value {
            case .int(let integer): number = Double(integer)
            case .double(let double): number = double
            default: number = 0
            }
            if let minimum = Self.number(raw["minimum"]), number < minimum {
                found.append("\(path): \(Self.render(value)) is below the minimum \(minimum)")
            }
            if let maximum = Self.number(raw["maximum"]), number > maximum {
                found.append("\(path): \(Self.render(value)) is above the maximum \(maximum)")
            }
        case .null, .bool:
            break
        }
        return found
    }

    private static func value(_ value: JSONValue, hasType type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("integer", .int),
            ("number", .int), ("number", .double):
            return true
        default:
            return false
        }
    }

    private static func value(_ value: JSONValue, equals option: Any) -> Bool {
        switch value {
        case .string(let text): return (option as? String) == text
        case .int(let integer): return (option as? Int).map { Int64($0) == integer } ?? false
        case .double(let double): return (option as? Double) == double
        case .bool(let bool): return (option as? Bool) == bool
        case .null: return option is NSNull
        case .array, .object: return false
        }
    }

    private static func number(_ node: Any?) -> Double? {
        if let integer = node as? Int { return Double(integer) }
        return node as? Double
    }

    private static func kind(of value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "boolean"
        case .int: "integer"
        case .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    private static func render(_ value: JSONValue) -> String {
        String(decoding: value.serialized(), as: UTF8.self)
    }

    /// RFC 3339 `date-time`: full date, `T`, full time with optional fraction, and `Z` or an offset.
    private static func isDateTime(_ text: String) -> Bool {
        let pattern = #"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"#
        return text.range(of: pattern, options: .regularExpression) != nil
    }
}
