import Foundation
import TapedeckCore
import TapedeckScenario
import Yams

extension ProfileReader {
    static let diffKeys = ["key", "ignore", "ignore_values"]

    /// Reads a `diff:` section (a profile's, or a `.tapedeck-diff.yaml` file's root).
    static func diffPreset(_ n: Node, reader r: NodeReader) -> DiffPreset {
        var preset = DiffPreset()
        guard let pairs = r.mapping(n, what: "'diff'", allowed: diffKeys) else { return preset }
        for (key, _, v) in pairs {
            switch key {
            case "key":
                let items: [Node] = if case .sequence(let s) = v { Array(s) } else { [v] }
                for item in items { if let part = keyPart(item, reader: r) { preset.key.append(part) } }
            case "ignore":
                for (text, node) in stringItems(v, what: "'ignore' (JSON paths)", reader: r) {
                    if let p = path(text, at: node, reader: r) { preset.ignore.append(p) }
                }
            default:
                for (text, node) in stringItems(v, what: "'ignore_values' (regular expressions)", reader: r) {
                    if (try? NSRegularExpression(pattern: "\\A(?:" + text + ")\\z")) != nil {
                        preset.ignoreValues.append(text)
                    } else {
                        r.error("'\(text)' is not a valid regular expression", at: node)
                    }
                }
            }
        }
        return preset
    }

    /// A JSON path, or a bare field name as shorthand for `$.name`.
    static func path(_ text: String, at node: Node, reader r: NodeReader) -> JSONPath? {
        let source = text.hasPrefix("$") ? text : "$." + text
        do {
            return try JSONPath(parsing: source)
        } catch {
            r.error("\(error)", at: node)
            return nil
        }
    }

    static func keyPart(_ n: Node, reader r: NodeReader) -> MessageKeyPart? {
        if case .scalar = n {
            guard let text = r.string(n, what: "a key part (a field name or JSON path)") else { return nil }
            return path(text, at: n, reader: r).map { .value($0) }
        }
        guard let pairs = r.mapping(n, what: "a key part", allowed: ["member_of", "except"]) else { return nil }
        let k = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        guard let of = k["member_of"], let text = r.string(of, what: "'member_of' (a JSON path)") else {
            r.error("a key part mapping needs 'member_of' (the JSON path of an object whose member names the message)", at: n)
            return nil
        }
        guard let p = path(text, at: of, reader: r) else { return nil }
        let except = k["except"].flatMap { r.strings($0, what: "'except'") } ?? []
        return .memberName(of: p, except: except)
    }

    static func stringItems(_ n: Node, what: String, reader r: NodeReader) -> [(String, Node)] {
        let items: [Node] = if case .sequence(let s) = n { Array(s) } else { [n] }
        return items.compactMap { item in r.string(item, what: "each of \(what)").map { ($0, item) } }
    }
}

extension ProfileLoader {
    /// Loads a diff rules file (such as `.tapedeck-diff.yaml`): the same keys as a profile's `diff:` section.
    public func loadDiffPreset(text: String, file: String) throws(ScenarioErrors) -> DiffPreset {
        let r = NodeReader(file: file)
        guard let root = r.compose(text) else {
            if r.errors.isEmpty { return DiffPreset() }
            throw ScenarioErrors(r.errors)
        }
        let preset = ProfileReader.diffPreset(root, reader: r)
        if !r.errors.isEmpty { throw ScenarioErrors(r.errors) }
        return preset
    }
}
