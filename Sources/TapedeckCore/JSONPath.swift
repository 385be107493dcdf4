import OrderedCollections

/// A small JSON path: `$`, `.key`, `['key']`, `[0]`, `[*]`, `.*` and `..key` (any depth).
///
/// Redaction replaces what a path selects; the diff ignores differences at locations a path covers
/// (see `covers(_:)`).
public struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    enum Step: Sendable, Hashable {
        case key(String)
        case index(Int)
        case wildcard
        case descendant(String)
    }

    let steps: [Step]
    public let description: String

    /// Parses a path such as `$.data.password` or `$..token`.
    public init(parsing text: String) throws(JSONPathError) {
        let chars = Array(text)
        var i = 0
        guard chars.first == "$" else { throw JSONPathError("JSON path \(text) must start with $") }
        i = 1
        var steps: [Step] = []
        func readName() -> String {
            var name = ""
            while i < chars.count, chars[i] != ".", chars[i] != "[" {
                name.append(chars[i])
                i += 1
            }
            return name
        }
        while i < chars.count {
            if chars[i] == "." {
                if i + 1 < chars.count, chars[i + 1] == "." {
                    i += 2
                    let name = readName()
                    guard !name.isEmpty else { throw JSONPathError("JSON path \(text): empty name after ..") }
                    steps.append(.descendant(name))
                } else {
                    i += 1
                    let name = readName()
                    guard !name.isEmpty else { throw JSONPathError("JSON path \(text): empty name after .") }
                    steps.append(name == "*" ? .wildcard : .key(name))
                }
            } else if chars[i] == "[" {
                guard let close = chars[i...].firstIndex(of: "]") else {
                    throw JSONPathError("JSON path \(text): missing ]")
                }
                let inner = String(chars[(i + 1)..<close])
                i = close + 1
                if inner == "*" {
                    steps.append(.wildcard)
                } else if let n = Int(inner) {
                    steps.append(.index(n))
                } else if inner.count >= 2, let q = inner.first, q == "'" || q == "\"", inner.last == q {
                    steps.append(.key(String(inner.dropFirst().dropLast())))
                } else {
                    throw JSONPathError("JSON path \(text): cannot read [\(inner)]")
                }
            } else {
                throw JSONPathError("JSON path \(text): unexpected \(chars[i])")
            }
        }
        self.steps = steps
        self.description = text
    }

    /// The key when the path is `$..key` (a key at any depth), else nil.
    public var anyDepthKey: String? {
        if steps.count == 1, case .descendant(let k) = steps[0] { return k }
        return nil
    }

    /// Whether the path selects anything in `value` (reads only; no copies).
    public func matches(_ value: Value) -> Bool {
        Self.matches(steps[...], value)
    }

    private static func matches(_ steps: ArraySlice<Step>, _ value: Value) -> Bool {
        guard let step = steps.first else { return true }
        let rest = steps.dropFirst()
        switch (step, value) {
        case (.key(let k), .object(let o)):
            guard let child = o[k] else { return false }
            return matches(rest, child)
        case (.index(let n), .array(let a)):
            let idx = n < 0 ? a.count + n : n
            return a.indices.contains(idx) && matches(rest, a[idx])
        case (.wildcard, .object(let o)):
            return o.values.contains { matches(rest, $0) }
        case (.wildcard, .array(let a)):
            return a.contains { matches(rest, $0) }
        case (.descendant(let k), .object(let o)):
            for (key, child) in o {
                if key == k, matches(rest, child) { return true }
                if matches(steps, child) { return true }
            }
            return false
        case (.descendant, .array(let a)):
            return a.contains { matches(steps, $0) }
        default:
            return false
        }
    }

    /// Replaces every value the path selects; returns whether anything was replaced.
    @discardableResult
    public func replace(in value: inout Value, with replacement: Value) -> Bool {
        Self.replace(steps[...], in: &value, with: replacement)
    }

    private static func replace(_ steps: ArraySlice<Step>, in value: inout Value, with replacement: Value) -> Bool {
        guard let step = steps.first else {
            value = replacement
            return true
        }
        let rest = steps.dropFirst()
        switch (step, value) {
        case (.key(let k), .object(var o)):
            guard var child = o[k] else { return false }
            let changed = replace(rest, in: &child, with: replacement)
            if changed { o[k] = child; value = .object(o) }
            return changed
        case (.index(let n), .array(var a)):
            let idx = n < 0 ? a.count + n : n
            guard a.indices.contains(idx) else { return false }
            let changed = replace(rest, in: &a[idx], with: replacement)
            if changed { value = .array(a) }
            return changed
        case (.wildcard, .object(var o)):
            var changed = false
            for i in o.values.indices where replace(rest, in: &o.values[i], with: replacement) { changed = true }
            if changed { value = .object(o) }
            return changed
        case (.wildcard, .array(var a)):
            var changed = false
            for i in a.indices where replace(rest, in: &a[i], with: replacement) { changed = true }
            if changed { value = .array(a) }
            return changed
        case (.descendant(let k), .object(var o)):
            var changed = false
            for i in o.values.indices {
                if o.keys[i] == k {
                    if replace(rest, in: &o.values[i], with: replacement) { changed = true }
                } else if replace(steps, in: &o.values[i], with: replacement) {
                    changed = true
                }
            }
            if changed { value = .object(o) }
            return changed
        case (.descendant, .array(var a)):
            var changed = false
            for i in a.indices where replace(steps, in: &a[i], with: replacement) { changed = true }
            if changed { value = .array(a) }
            return changed
        default:
            return false
        }
    }
}

extension JSONPath: ExpressibleByStringLiteral {
    /// A literal path; an unparsable literal selects nothing.
    public init(stringLiteral value: String) {
        self = (try? JSONPath(parsing: value)) ?? JSONPath(emptyDescription: value)
    }

    private init(emptyDescription: String) {
        self.steps = [.key("\u{0}never")]
        self.description = emptyDescription
    }
}

/// A JSON path that cannot be read, with what was wrong.
public struct JSONPathError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What was wrong, naming the path.
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension JSONPath {
    /// Whether this path selects `location` or one of its ancestors.
    ///
    /// `$.data` covers `$.data` and `$.data.id`; `$..updated_at` covers `$.items[3].updated_at`;
    /// `$.logs[*].id` covers `$.logs[0].id`. A negative index covers nothing (the list's length is unknown).
    public func covers(_ location: ValuePath) -> Bool {
        Self.covers(steps[...], location.components[...])
    }

    private static func covers(_ steps: ArraySlice<Step>, _ location: ArraySlice<ValuePath.Component>) -> Bool {
        guard let step = steps.first else { return true }
        guard let here = location.first else { return false }
        let rest = steps.dropFirst()
        let below = location.dropFirst()
        switch (step, here) {
        case (.key(let k), .key(let l)): return k == l && covers(rest, below)
        case (.index(let n), .index(let i)): return n == i && covers(rest, below)
        case (.wildcard, _): return covers(rest, below)
        case (.descendant(let k), _):
            if case .key(let l) = here, l == k, covers(rest, below) { return true }
            return covers(steps, below)
        default: return false
        }
    }
}

extension JSONPath {
    /// The first value the path selects in `value`, in document order, or `nil`.
    public func firstValue(in value: Value) -> Value? {
        Self.first(steps[...], value)
    }

    private static func first(_ steps: ArraySlice<Step>, _ value: Value) -> Value? {
        guard let step = steps.first else { return value }
        let rest = steps.dropFirst()
        switch (step, value) {
        case (.key(let k), .object(let o)):
            return o[k].flatMap { first(rest, $0) }
        case (.index(let n), .array(let a)):
            let idx = n < 0 ? a.count + n : n
            return a.indices.contains(idx) ? first(rest, a[idx]) : nil
        case (.wildcard, .object(let o)):
            for child in o.values { if let v = first(rest, child) { return v } }
            return nil
        case (.wildcard, .array(let a)):
            for child in a { if let v = first(rest, child) { return v } }
            return nil
        case (.descendant(let k), .object(let o)):
            for (key, child) in o {
                if key == k, let v = first(rest, child) { return v }
                if let v = first(steps, child) { return v }
            }
            return nil
        case (.descendant, .array(let a)):
            for child in a { if let v = first(steps, child) { return v } }
            return nil
        default:
            return nil
        }
    }
}
