import Foundation
import TapedeckCore
import OrderedCollections

/// Writes values as readable YAML that the scenario loader reads back to the same values.
///
/// Block style for nesting, flow style (`{a: 1, b: x}`) for short lists and objects of scalars.
/// Strings are written plain only when YAML cannot mistake them for anything else, otherwise
/// double-quoted. Text containing `{{` is written as a string literal expression
/// (`"{{ 'a {{ b' }}"`), so that templates do not evaluate recorded text.
struct ScenarioYAMLWriter {
    /// Widest flow-style line, indentation included.
    var flowWidth = 100
    /// Whether the values are read as templates (events), where `{{` must be written as a literal;
    /// `vars`, `entities` and `settings` are plain values.
    var templates = true

    /// A value as the body of `key:` at `indent` spaces: either ` scalar` on the same line, or a
    /// newline followed by an indented block.
    func body(_ value: Value, indent: Int) -> String {
        if let inline = inline(value, room: flowWidth - indent) { return " " + inline + "\n" }
        return "\n" + block(value, indent: indent + 2)
    }

    /// A block (object or list) at `indent` spaces, one line per member.
    func block(_ value: Value, indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        var out = ""
        switch value {
        case .object(let members):
            for (k, v) in members { out += pad + key(k) + ":" + body(v, indent: indent) }
        case .array(let items):
            for item in items {
                if case .object(let members) = item, !members.isEmpty, inline(item, room: flowWidth - indent - 2) == nil {
                    // "- first: ..." then the other keys aligned under it.
                    let inner = block(item, indent: indent + 2)
                    out += pad + "- " + inner.dropFirst(indent + 2)
                } else if case .array(let nested) = item, !nested.isEmpty, inline(item, room: flowWidth - indent - 2) == nil {
                    out += pad + "-\n" + block(item, indent: indent + 2)
                } else {
                    out += pad + "-" + body(item, indent: indent)
                }
            }
        default:
            out += pad + scalar(value) + "\n"
        }
        return out
    }

    /// The value on one line when it is a scalar, or a short flow collection of scalars.
    func inline(_ value: Value, room: Int) -> String? {
        switch value {
        case .object(let members):
            if members.isEmpty { return "{}" }
            guard members.values.allSatisfy(Self.isScalar) else { return nil }
            let text = "{" + members.map { key($0.key) + ": " + scalar($0.value) }.joined(separator: ", ") + "}"
            return text.count <= room ? text : nil
        case .array(let items):
            if items.isEmpty { return "[]" }
            guard items.allSatisfy(Self.isScalar) else { return nil }
            let text = "[" + items.map(scalar).joined(separator: ", ") + "]"
            return text.count <= room ? text : nil
        default:
            return scalar(value)
        }
    }

    static func isScalar(_ v: Value) -> Bool {
        switch v {
        case .array, .object: false
        default: true
        }
    }

    func scalar(_ value: Value) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d):
            guard d.isFinite else { return d.isNaN ? ".nan" : (d < 0 ? "-.inf" : ".inf") }
            if d.rounded() == d, abs(d) < 1e15 { return String(Int(d)) + ".0" }
            var text = "\(d)"
            if !text.contains("."), let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) { text.insert(contentsOf: ".0", at: e) }
            return text
        case .string(let s): return string(s)
        case .array, .object: return inline(value, room: .max) ?? value.jsonString
        }
    }

    static let reserved: Set<String> = ["true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"]

    /// A string scalar: plain when safe, else double-quoted; text with `{{` as a literal expression.
    func string(_ s: String) -> String {
        if templates, s.contains("{{") {
            let literal = s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
            return quoted("{{ '" + literal + "' }}")
        }
        return Self.isPlain(s) ? s : quoted(s)
    }

    /// A mapping key.
    func key(_ k: String) -> String { Self.isPlain(k) ? k : quoted(k) }

    static func isPlain(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first.isASCIILetter || first == "_" || first == "/" else { return false }
        if reserved.contains(s.lowercased()) { return false }
        if s.hasSuffix(" ") || s.contains("  ") { return false }
        return s.unicodeScalars.allSatisfy { $0.isASCIILetter || ("0"..."9").contains($0) || " _-./@".unicodeScalars.contains($0) }
    }

    /// A double-quoted YAML string (its escapes are a superset of JSON's).
    func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 || u.value == 0x7F || u.value == 0x85 || u.value == 0xA0 || u.value == 0x2028 || u.value == 0x2029 || u.value == 0xFEFF {
                    let hex = String(u.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}
