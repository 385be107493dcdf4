import OrderedCollections
import TapedeckCore

/// Where a message differs from a pattern: one entry per path whose value does not match.
struct PatternMismatch: Sendable, Hashable, CustomStringConvertible {
    /// A JSON path such as `$.data.squad`.
    var path: String
    var expected: String
    /// What is there instead; `nil` when the path is missing.
    var actual: String?

    var description: String { "\(path): expected \(expected), found \(actual ?? "nothing")" }

    /// The paths at which `value` does not match `pattern`; empty when it matches.
    static func find(pattern: Value, in value: Value?, path: String = "$") -> [PatternMismatch] {
        if Pattern(pattern).matches(value) { return [] }
        switch pattern {
        case .object(let o) where !o.isEmpty && !isOperatorObject(o.keys):
            guard case .object(let c)? = value else {
                return [PatternMismatch(path: path, expected: "an object", actual: value.map(show))]
            }
            var out: [PatternMismatch] = []
            for (k, p) in o {
                let sub = path + (isSimpleKey(k) ? ".\(k)" : "['\(k)']")
                guard let v = c[k] else {
                    if !Pattern(p).matches(nil) { out.append(PatternMismatch(path: sub, expected: show(p), actual: nil)) }
                    continue
                }
                out += find(pattern: p, in: v, path: sub)
            }
            return out
        case .array(let items):
            guard case .array(let c)? = value, c.count == items.count else {
                return [PatternMismatch(path: path, expected: "a list of \(items.count): \(show(pattern))", actual: value.map(show))]
            }
            return zip(items, c).enumerated().flatMap { find(pattern: $0.element.0, in: $0.element.1, path: path + "[\($0.offset)]") }
        default:
            return [PatternMismatch(path: path, expected: show(pattern), actual: value.map(show))]
        }
    }

    static func isOperatorObject(_ keys: some Collection<String>) -> Bool {
        let ops: Set<String> = ["not", "any", "in", "exists", "gt", "gte", "lt", "lte", "contains", "prefix", "matches"]
        return keys.allSatisfy { ops.contains($0.hasPrefix("$") ? String($0.dropFirst()) : $0) }
    }

    static func isSimpleKey(_ k: String) -> Bool {
        !k.isEmpty && k.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
    }

    /// A value in one line, shortened.
    static func show(_ v: Value) -> String {
        let s = v.jsonString
        return s.count > 120 ? String(s.prefix(117)) + "..." : s
    }
}
