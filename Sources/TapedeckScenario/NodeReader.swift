import Foundation
public import Yams
public import TapedeckCore
import OrderedCollections

/// Reads a composed YAML document into Tapedeck's models, collecting every error with its location.
///
/// Readers never stop at the first problem: each accessor records an error and returns `nil`,
/// so that `tapedeck validate` can report everything at once.
public final class NodeReader {
    /// The file the nodes came from, as it should be shown in messages.
    public let file: String
    /// Errors found so far.
    public private(set) var errors: [ScenarioError] = []
    /// Functions templates may call.
    public var functions: FunctionLibrary = .standard
    /// The names `vars` defines, when known: a template reading another `vars.<name>` gets a
    /// warning at the reference (it would read `null`).
    public var knownVars: Set<String>?

    /// The number of errors so far, warnings left out.
    public var problemCount: Int { errors.lazy.filter { !$0.isWarning }.count }

    public init(file: String) { self.file = file }

    /// How deep a document may nest (mappings and lists inside each other).
    public static let maximumDepth = 128
    /// How many nodes a document may hold, counting every use of an alias: an alias bomb (a
    /// "billion laughs") is refused before anything expands it.
    public static let maximumNodes = 1_000_000

    /// Parses YAML text into a node; a syntax error is recorded with its line and column, and a
    /// document nested too deep or too large (aliases expanded) is refused.
    public func compose(_ text: String) -> Node? {
        do {
            guard let node = try Yams.compose(yaml: text) else { return nil }
            return checkBounds(node) ? node : nil
        } catch let error as YamlError {
            switch error {
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
                .composer(let context, let problem, let mark, _):
                var message = "YAML syntax error: \(problem)"
                if let context { message += " \(context.text)" }
                errors.append(ScenarioError(message, at: SourceLocation(file: file, line: mark.line, column: mark.column)))
            case .reader(let problem, let offset, let value, let yaml):
                var message = "cannot read YAML: \(problem)"
                if (0..<32).contains(value) { message += String(format: " (byte 0x%02X)", value) }
                errors.append(ScenarioError(message, at: Self.location(ofOffset: offset, in: yaml, file: file)))
            default:
                errors.append(ScenarioError("YAML error: \(error)", at: SourceLocation(file: file, line: 1, column: 1)))
            }
            return nil
        } catch {
            errors.append(ScenarioError("YAML error: \(error)", at: SourceLocation(file: file, line: 1, column: 1)))
            return nil
        }
    }

    /// Walks the document without recursion, counting nodes (each use of an alias again) and
    /// depth; records an error and returns false at the first bound exceeded.
    func checkBounds(_ root: Node) -> Bool {
        var stack: [(node: Node, depth: Int)] = [(root, 1)]
        var count = 0
        while let (node, depth) = stack.popLast() {
            count += 1
            if depth > Self.maximumDepth {
                error("the document nests deeper than \(Self.maximumDepth) levels", at: node)
                return false
            }
            if count > Self.maximumNodes {
                error(
                    "the document holds more than \(Self.maximumNodes) values once its aliases are expanded (an alias bomb?); nothing was read",
                    at: root)
                return false
            }
            switch node {
            case .scalar: break
            case .sequence(let seq): for n in seq { stack.append((n, depth + 1)) }
            case .mapping(let m):
                for (k, v) in m {
                    stack.append((k, depth + 1))
                    stack.append((v, depth + 1))
                }
            }
        }
        return true
    }

    /// Line and column of a character offset (libyaml's reader counts characters), for reader
    /// errors such as a control character.
    static func location(ofOffset offset: Int?, in text: String, file: String) -> SourceLocation {
        guard let offset, offset >= 0 else { return SourceLocation(file: file, line: 1, column: 1) }
        var line = 1, column = 1
        for (i, c) in text.unicodeScalars.enumerated() {
            if i >= offset { break }
            if c == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return SourceLocation(file: file, line: line, column: column)
    }

    /// The location of a node.
    public func location(_ node: Node) -> SourceLocation {
        let mark = node.mark
        return SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    /// Records an error at a node.
    public func error(_ message: String, at node: Node) {
        errors.append(ScenarioError(message, at: location(node)))
    }

    /// Records an error at a location.
    public func error(_ message: String, at location: SourceLocation) {
        errors.append(ScenarioError(message, at: location))
    }

    /// Adds errors found elsewhere (an included file).
    public func absorb(_ more: [ScenarioError]) { errors.append(contentsOf: more) }

    // MARK: Mappings

    /// The key/value pairs of a mapping, checking that keys are strings, not repeated, and known.
    /// Unknown keys are reported with a suggestion.
    public func mapping(_ node: Node, what: String, allowed: [String]? = nil) -> [(key: String, keyNode: Node, value: Node)]? {
        guard case .mapping(let m) = node else {
            error("expected \(what) to be a mapping (key: value), found \(describe(node))", at: node)
            return nil
        }
        var seen: [String: Node] = [:]
        var out: [(String, Node, Node)] = []
        for (k, v) in m {
            guard case .scalar(let ks) = k else {
                error("expected a string key in \(what), found \(describe(k))", at: k)
                continue
            }
            let key = ks.string
            if let first = seen[key] {
                error("duplicate key '\(key)' in \(what) (first defined at line \(location(first).line))", at: k)
                continue
            }
            seen[key] = k
            if let allowed, !allowed.contains(key) {
                var message = "unknown key '\(key)' in \(what)"
                if let s = Suggestion.closest(to: key, in: allowed) {
                    message += "; did you mean '\(s)'?"
                } else {
                    message += "; expected one of: \(allowed.joined(separator: ", "))"
                }
                error(message, at: k)
                continue
            }
            out.append((key, k, v))
        }
        return out
    }

    /// Looks a key up in a mapping node.
    public func child(_ node: Node, _ key: String) -> Node? {
        guard case .mapping(let m) = node else { return nil }
        for (k, v) in m where k.scalar?.string == key { return v }
        return nil
    }

    // MARK: Scalars

    public func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let s):
            switch Self.plainValue(s) {
            case .string(let text): return s.style == .plain ? "'\(text)'" : "string '\(text)'"
            case let v: return "\(v.kindName) \(v)"
            }
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }

    /// A string scalar.
    public func string(_ node: Node, what: String) -> String? {
        guard case .scalar(let s) = node, case .string(let text) = Self.plainValue(s) else {
            error("expected \(what) to be a string, found \(describe(node))", at: node)
            return nil
        }
        return text
    }

    /// A scalar given as text whatever its YAML type (`seed: 42` or `seed: "42"`).
    public func text(_ node: Node, what: String) -> String? {
        guard case .scalar(let s) = node else {
            error("expected \(what) to be a scalar, found \(describe(node))", at: node)
            return nil
        }
        return s.string
    }

    public func bool(_ node: Node, what: String) -> Bool? {
        guard case .scalar(let s) = node, case .bool(let b) = Self.plainValue(s) else {
            error("expected \(what) to be true or false, found \(describe(node))", at: node)
            return nil
        }
        return b
    }

    public func integer(_ node: Node, what: String, minimum: Int? = nil) -> Int? {
        guard case .scalar(let s) = node, case .int(let i) = Self.plainValue(s) else {
            error("expected \(what) to be an integer, found \(describe(node))", at: node)
            return nil
        }
        if let minimum, i < minimum {
            error("\(what) must be at least \(minimum), found \(i)", at: node)
            return nil
        }
        return i
    }

    public func number(_ node: Node, what: String) -> Double? {
        guard case .scalar(let s) = node, let d = Self.plainValue(s).doubleValue else {
            error("expected \(what) to be a number, found \(describe(node))", at: node)
            return nil
        }
        return d
    }

    /// A duration in seconds: `30s`, `500ms`, `2m`, `1h30m`, or a number of seconds.
    public func duration(_ node: Node, what: String, allowNegative: Bool = false, allowZero: Bool = true) -> Double? {
        guard case .scalar(let s) = node else {
            error("expected \(what) to be a duration such as 30s, found \(describe(node))", at: node)
            return nil
        }
        guard let seconds = DurationText.seconds(s.string) else {
            error("expected \(what) to be a duration such as 500ms, 30s, 2m or 1h, found '\(s.string)'", at: node)
            return nil
        }
        if !allowNegative && seconds < 0 {
            error("\(what) must not be negative, found '\(s.string)'", at: node)
            return nil
        }
        if !allowZero && seconds == 0 {
            error("\(what) must be greater than zero", at: node)
            return nil
        }
        return seconds
    }

    /// A list of strings; a single string is accepted as a list of one.
    public func strings(_ node: Node, what: String) -> [String]? {
        if case .scalar = node { return string(node, what: what).map { [$0] } }
        guard case .sequence(let seq) = node else {
            error("expected \(what) to be a list of strings, found \(describe(node))", at: node)
            return nil
        }
        return seq.compactMap { string($0, what: "each of \(what)") }
    }

    // MARK: Values and templates

    /// The plain value of a scalar: YAML 1.2 core schema for plain scalars, strings when quoted.
    public static func plainValue(_ s: Node.Scalar) -> Value {
        let t = s.string
        guard s.style == .plain else { return .string(t) }
        switch t {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", "+.inf": return .double(.infinity)
        case "-.inf", "-.Inf": return .double(-.infinity)
        case ".nan", ".NaN": return .double(.nan)
        default: break
        }
        if let i = Int(t) { return .int(i) }
        if t.hasPrefix("0x"), let i = Int(t.dropFirst(2), radix: 16) { return .int(i) }
        if let first = t.first, first.isNumber || first == "-" || first == "+" || first == ".",
            t.allSatisfy({ $0.isNumber || "+-.eE".contains($0) }), let d = Double(t)
        {
            return .double(d)
        }
        return .string(t)
    }

    /// A node as a plain value (no templates).
    public func value(_ node: Node) -> Value {
        switch node {
        case .scalar(let s): return Self.plainValue(s)
        case .sequence(let seq): return .array(seq.map { value($0) })
        case .mapping:
            var o = OrderedDictionary<String, Value>()
            for (k, _, v) in mapping(node, what: "a mapping") ?? [] { o[k] = value(v) }
            return .object(o)
        }
    }

    /// A node compiled as a template. Expression errors point at the exact column inside the scalar;
    /// unknown functions and unknown root names are reported too.
    public func template(_ node: Node, names: Set<String>) -> Template? {
        switch node {
        case .scalar(let s):
            guard s.style == .plain || s.string.contains("{{") else { return .constant(Self.plainValue(s)) }
            guard s.string.contains("{{") else { return .constant(Self.plainValue(s)) }
            do {
                let t = try Template(string: s.string)
                check(t, at: node, names: names)
                return t
            } catch {
                self.error("bad expression in '\(s.string)': \(error.message)", at: scalarLocation(s, node: node, offset: error.offset ?? 0))
                return nil
            }
        case .sequence(let seq):
            var items: [Template] = []
            var ok = true
            for n in seq {
                if let t = template(n, names: names) { items.append(t) } else { ok = false }
            }
            return ok ? Template.simplify(.array(items)) : nil
        case .mapping:
            var o = OrderedDictionary<String, Template>()
            var ok = true
            for (k, _, v) in mapping(node, what: "a mapping") ?? [] {
                if let t = template(v, names: names) { o[k] = t } else { ok = false }
            }
            return ok ? Template.simplify(.object(o)) : nil
        }
    }

    /// Where each leaf of a template node is, by the path ``Template/failures(in:)`` names it with
    /// (`data.severity`, `items[2]`): at the leaf's first `{{`, or the node itself for plain values.
    public func leafLocations(_ node: Node, prefix: String = "") -> [String: SourceLocation] {
        var out: [String: SourceLocation] = [:]
        func walk(_ n: Node, _ path: String) {
            switch n {
            case .scalar(let s):
                let offset = s.string.range(of: "{{").map { s.string.distance(from: s.string.startIndex, to: $0.lowerBound) } ?? 0
                out[path] = scalarLocation(s, node: n, offset: offset)
            case .sequence(let seq):
                out[path] = location(n)
                for (i, item) in seq.enumerated() { walk(item, path + "[\(i)]") }
            case .mapping(let m):
                out[path] = location(n)
                for (k, v) in m {
                    guard case .scalar(let ks) = k else { continue }
                    let key = ks.string.hasSuffix("?") ? String(ks.string.dropLast()) : ks.string
                    walk(v, path.isEmpty ? key : path + "." + key)
                }
            }
        }
        walk(node, "")
        guard !prefix.isEmpty else { return out }
        return Dictionary(uniqueKeysWithValues: out.map { (prefix + $0.key, $0.value) })
    }

    /// Checks function names and root names of a compiled template.
    func check(_ t: Template, at node: Node, names: Set<String>) {
        for e in t.expressions {
            if let knownVars {
                for v in e.members(of: "vars") where !knownVars.contains(v) {
                    var message = "'vars.\(v)' is not defined in 'vars', so it reads null"
                    if let s = Suggestion.closest(to: v, in: knownVars) { message += "; did you mean 'vars.\(s)'?" }
                    errors.append(.warning(message, at: columnOf("vars." + v, in: node) ?? location(node)))
                }
            }
            for f in e.calledFunctions where functions[f] == nil {
                var message = "unknown function '\(f)'"
                if let s = Suggestion.closest(to: f, in: functions.names) { message += "; did you mean '\(s)'?" }
                error(message, at: columnOf(f + "(", in: node) ?? location(node))
            }
            for n in e.freeNames where !names.contains(n) {
                var message = "unknown name '\(n)'"
                if let s = Suggestion.closest(to: n, in: names) {
                    message += "; did you mean '\(s)'?"
                } else {
                    message += "; names here are: \(names.sorted().joined(separator: ", "))"
                }
                error(message, at: columnOf(n, in: node) ?? location(node))
            }
        }
    }

    func scalarLocation(_ s: Node.Scalar, node: Node, offset: Int) -> SourceLocation {
        var loc = location(node)
        let quoted = s.style == .singleQuoted || s.style == .doubleQuoted
        if !s.string.contains("\n") { loc.column += offset + (quoted ? 1 : 0) }
        return loc
    }

    func columnOf(_ needle: String, in node: Node) -> SourceLocation? {
        guard case .scalar(let s) = node, let r = s.string.range(of: needle) else { return nil }
        return scalarLocation(s, node: node, offset: s.string.distance(from: s.string.startIndex, to: r.lowerBound))
    }
}
