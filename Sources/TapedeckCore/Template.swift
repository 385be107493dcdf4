import OrderedCollections

/// A value with `{{ ... }}` expressions inside its strings, compiled once and evaluated many times.
///
/// - A string that is exactly one `{{ expr }}` keeps the expression's type (number, bool, object...).
/// - Text around expressions makes a string: `"inc-{{ seq() }}"` gives `"inc-7"`.
/// - Lists and objects are templates of templates; object keys are literal.
public indirect enum Template: Sendable, Hashable {
    case constant(Value)
    case expression(Expression)
    case interpolation([Part])
    case array([Template])
    case object(OrderedDictionary<String, Template>)

    /// A piece of an interpolated string.
    public enum Part: Sendable, Hashable {
        case text(String)
        case expression(Expression)
    }

    /// Compiles one string. Errors carry the character offset within `text`.
    public init(string text: String) throws(ExpressionError) {
        let parts = try Template.split(text)
        if parts.isEmpty {
            self = .constant(.string(text))
        } else if parts.count == 1, case .expression(let e, _) = parts[0] {
            self = .expression(e)
        } else {
            self = .interpolation(parts.map {
                switch $0 {
                case .text(let t): .text(t)
                case .expression(let e, _): .expression(e)
                }
            })
        }
    }

    /// Compiles every string inside a value.
    public init(value: Value) throws(ExpressionError) {
        switch value {
        case .string(let s): self = try Template(string: s)
        case .array(let items):
            var out: [Template] = []
            for i in items { out.append(try Template(value: i)) }
            self = Template.simplify(.array(out))
        case .object(let o):
            var out = OrderedDictionary<String, Template>()
            for (k, v) in o { out[k] = try Template(value: v) }
            self = Template.simplify(.object(out))
        default: self = .constant(value)
        }
    }

    /// Folds a list or object whose members are all constant into one constant.
    public static func simplify(_ t: Template) -> Template {
        switch t {
        case .array(let items):
            var values: [Value] = []
            for i in items {
                guard case .constant(let v) = i else { return t }
                values.append(v)
            }
            return .constant(.array(values))
        case .object(let o):
            var values = OrderedDictionary<String, Value>()
            for (k, i) in o {
                guard case .constant(let v) = i, !k.hasSuffix("?") else { return t }
                values[k] = v
            }
            return .constant(.object(values))
        default: return t
        }
    }

    /// Evaluates the template.
    public func evaluate(in ctx: inout EvaluationContext) throws(ExpressionError) -> Value {
        switch self {
        case .constant(let v): return v
        case .expression(let e): return try ctx.evaluate(e)
        case .interpolation(let parts):
            var s = ""
            for p in parts {
                switch p {
                case .text(let t): s += t
                case .expression(let e): s += try ctx.evaluate(e).plainText
                }
            }
            return .string(s)
        case .array(let items):
            var out: [Value] = []
            out.reserveCapacity(items.count)
            for i in items { out.append(try i.evaluate(in: &ctx)) }
            return .array(out)
        case .object(let o):
            var out = OrderedDictionary<String, Value>(minimumCapacity: o.count)
            for (k, t) in o {
                let v = try t.evaluate(in: &ctx)
                // `key?:` marks an optional key, left out when its value is null.
                if k.hasSuffix("?") {
                    if !v.isNull { out[String(k.dropLast())] = v }
                } else {
                    out[k] = v
                }
            }
            return .object(out)
        }
    }

    /// Evaluates every leaf, going on after a failure: the value with each failing leaf as `null`,
    /// and every failure with its path (`data.severity`, `items[2]`; empty for the template
    /// itself), so that one run finds every problem. For error reports: ``evaluate(in:)`` stops at
    /// the first failure.
    public func evaluatePartially(in ctx: inout EvaluationContext) -> (value: Value, failures: [(path: String, error: ExpressionError)]) {
        var out: [(path: String, error: ExpressionError)] = []
        let value = partial(path: "", in: &ctx, failures: &out)
        return (value, out)
    }

    private func partial(path: String, in ctx: inout EvaluationContext, failures: inout [(path: String, error: ExpressionError)]) -> Value {
        switch self {
        case .constant(let v): return v
        case .expression, .interpolation:
            do { return try evaluate(in: &ctx) } catch {
                failures.append((path, error))
                return .null
            }
        case .array(let items):
            return .array(items.enumerated().map { i, t in t.partial(path: path + "[\(i)]", in: &ctx, failures: &failures) })
        case .object(let o):
            var out = OrderedDictionary<String, Value>(minimumCapacity: o.count)
            for (k, t) in o {
                let optional = k.hasSuffix("?")
                let key = optional ? String(k.dropLast()) : k
                let v = t.partial(path: path.isEmpty ? key : path + "." + key, in: &ctx, failures: &failures)
                if !optional || !v.isNull { out[key] = v }
            }
            return .object(out)
        }
    }

    /// Every expression inside, for validation.
    public var expressions: [Expression] {
        switch self {
        case .constant: []
        case .expression(let e): [e]
        case .interpolation(let parts): parts.compactMap { if case .expression(let e) = $0 { e } else { nil } }
        case .array(let items): items.flatMap(\.expressions)
        case .object(let o): o.values.flatMap(\.expressions)
        }
    }

    /// The root names the template reads.
    public var freeNames: Set<String> { expressions.reduce(into: []) { $0.formUnion($1.freeNames) } }

    /// Whether evaluation can only ever give one value.
    public var isConstant: Bool { if case .constant = self { true } else { false } }

    enum RawPart {
        case text(String)
        case expression(Expression, offset: Int)
    }

    /// Splits text into literal text and `{{ }}` expressions; returns no parts when there are no braces.
    static func split(_ text: String) throws(ExpressionError) -> [RawPart] {
        guard text.contains("{{") else { return [] }
        let chars = Array(text)
        var parts: [RawPart] = []
        var literal = ""
        var i = 0
        var onlyExpression = true
        while i < chars.count {
            if chars[i] == "{", i + 1 < chars.count, chars[i + 1] == "{" {
                let start = i + 2
                var j = start
                var quote: Character?
                // Braces opened inside the expression (object literals): `}}` closes the template
                // only outside them, so `{{ {a: {b: 1}}}}` is the whole object.
                var depth = 0
                while j + 1 < chars.count {
                    let c = chars[j]
                    if let q = quote {
                        if c == "\\" { j += 2; continue }
                        if c == q { quote = nil }
                    } else if c == "'" || c == "\"" {
                        quote = c
                    } else if c == "{" {
                        depth += 1
                    } else if c == "}" {
                        if depth == 0, chars[j + 1] == "}" { break }
                        depth = Swift.max(0, depth - 1)
                    }
                    j += 1
                }
                guard j + 1 < chars.count, chars[j] == "}", chars[j + 1] == "}" else {
                    throw ExpressionError("'{{' is not closed by '}}'", offset: i)
                }
                let source = String(chars[start..<j])
                do {
                    let e = try Expression(parsing: source)
                    if !literal.isEmpty {
                        if !literal.allSatisfy(\.isWhitespace) || !parts.isEmpty { onlyExpression = false }
                        parts.append(.text(literal))
                        literal = ""
                    }
                    parts.append(.expression(e, offset: start))
                } catch {
                    throw ExpressionError(error.message, offset: start + (error.offset ?? 0))
                }
                i = j + 2
            } else {
                literal.append(chars[i])
                i += 1
            }
        }
        if !literal.isEmpty { parts.append(.text(literal)) }
        // A lone expression surrounded by whitespace keeps its type.
        let expressions = parts.filter { if case .expression = $0 { true } else { false } }
        let texts = parts.compactMap { if case .text(let t) = $0 { t } else { nil } }
        if expressions.count == 1, onlyExpression, texts.allSatisfy({ $0.allSatisfy(\.isWhitespace) }) {
            return expressions
        }
        return parts
    }
}
