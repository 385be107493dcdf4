import OrderedCollections

/// A partial structure that a message is matched against.
///
/// - An object pattern matches an object that has every key of the pattern with a matching value;
///   other keys are ignored.
/// - A list pattern matches a list of the same length, element by element.
/// - A scalar matches an equal scalar (`1` matches `1.0`).
/// - An object whose keys are all operators tests the value: `{not: p}`, `{any: [p...]}`,
///   `{in: [v...]}`, `{exists: bool}`, `{$type: "string"}`, `{gt|gte|lt|lte: n}`,
///   `{contains: p}` (a list element or substring), `{prefix: s}`, `{matches: regex}` (a string
///   containing a match of the regular expression; anchor it with `^...$` for the whole string). Operators may also be written
///   with a `$` prefix (`$not`) when a real field has an operator's name.
public struct Pattern: Sendable, Hashable {
    public var value: Value

    public init(_ value: Value) { self.value = value }

    static let operators: Set<String> = ["not", "any", "in", "exists", "gt", "gte", "lt", "lte", "contains", "prefix", "matches"]
    /// Operators that are also common field names, so they need the `$` prefix.
    static let prefixedOnly: Set<String> = ["type"]

    /// Whether `candidate` matches.
    public func matches(_ candidate: Value?) -> Bool { Pattern.match(value, candidate) }

    static func operatorName(_ key: String) -> String? {
        if key.hasPrefix("$") {
            let k = String(key.dropFirst())
            return operators.contains(k) || prefixedOnly.contains(k) ? k : nil
        }
        return operators.contains(key) ? key : nil
    }

    static func match(_ pattern: Value, _ candidate: Value?) -> Bool {
        switch pattern {
        case .object(let o) where !o.isEmpty && o.keys.allSatisfy({ operatorName($0) != nil }):
            return o.allSatisfy { applyOperator(operatorName($0.key)!, $0.value, candidate) }
        case .object(let o):
            guard case .object(let c)? = candidate else { return false }
            return o.allSatisfy { k, p in
                if case .object(let ops) = p, ops.count == 1, let op = ops.keys.first.flatMap(operatorName), op == "exists" {
                    return applyOperator(op, ops.values.first!, c[k])
                }
                return match(p, c[k])
            }
        case .array(let items):
            guard case .array(let c)? = candidate, c.count == items.count else { return false }
            return zip(items, c).allSatisfy { match($0, $1) }
        default:
            guard let candidate else { return false }
            return pattern.looselyEquals(candidate)
        }
    }

    static func applyOperator(_ op: String, _ arg: Value, _ c: Value?) -> Bool {
        switch op {
        case "not": return !match(arg, c)
        case "any": return (arg.arrayValue ?? [arg]).contains { match($0, c) }
        case "in": return c.map { v in (arg.arrayValue ?? [arg]).contains { $0.looselyEquals(v) } } ?? false
        case "exists": return (c != nil && !(c!.isNull)) == arg.isTruthy
        case "type": return c.map { $0.kindName == arg.stringValue || (arg.stringValue == "number" && $0.doubleValue != nil) } ?? false
        case "gt", "gte", "lt", "lte":
            guard let a = c?.doubleValue, let b = arg.doubleValue else { return false }
            switch op {
            case "gt": return a > b
            case "gte": return a >= b
            case "lt": return a < b
            default: return a <= b
            }
        case "contains":
            switch c {
            case .array(let items)?: return items.contains { match(arg, $0) }
            case .string(let s)?: return arg.stringValue.map { s.contains($0) } ?? false
            default: return false
            }
        case "prefix":
            guard let s = c?.stringValue, let p = arg.stringValue else { return false }
            return s.hasPrefix(p)
        case "matches":
            guard let s = c?.stringValue, let p = arg.stringValue, let regex = try? Regex(p) else { return false }
            return s.contains(regex)
        default: return false
        }
    }
}
