/// A parsed expression of Tapedeck's small expression language, as written inside `{{ ... }}`.
///
/// The language has literals (numbers, strings, `true`, `false`, `null`, durations such as `30s`),
/// list and object literals, names, member and index access, calls with positional or named
/// arguments, arithmetic (`+ - * / %`), comparison (`== != < <= > >=`), `and`/`or`/`not`, `in`,
/// null-coalescing `??` and the conditional `a ? b : c`.
public indirect enum Expression: Sendable, Hashable {
    case literal(Value)
    case name(String)
    case member(Expression, String)
    case index(Expression, Expression)
    case call(String, [Argument])
    case unary(UnaryOperator, Expression)
    case binary(BinaryOperator, Expression, Expression)
    case conditional(Expression, Expression, Expression)
    case list([Expression])
    case object([(String, Expression)])

    /// One argument of a call; `label` is set for named arguments (`token(sub: 'qa')`).
    public struct Argument: Sendable, Hashable {
        public var label: String?
        public var value: Expression
        public init(label: String? = nil, value: Expression) {
            self.label = label
            self.value = value
        }
    }

    public enum UnaryOperator: String, Sendable, Hashable {
        case not, negate = "-"
    }

    public enum BinaryOperator: String, Sendable, Hashable {
        case add = "+", subtract = "-", multiply = "*", divide = "/", remainder = "%"
        case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
        case and, or, `in`, coalesce = "??"
    }

    /// Parses an expression; throws an error whose `offset` points into `source`.
    public init(parsing source: String) throws(ExpressionError) {
        var parser = ExpressionParser(source: source)
        self = try parser.parseAll()
    }
}

extension Expression {
    public static func == (lhs: Expression, rhs: Expression) -> Bool {
        switch (lhs, rhs) {
        case (.literal(let a), .literal(let b)): a == b
        case (.name(let a), .name(let b)): a == b
        case (.member(let a, let k), .member(let b, let l)): a == b && k == l
        case (.index(let a, let i), .index(let b, let j)): a == b && i == j
        case (.call(let f, let a), .call(let g, let b)): f == g && a == b
        case (.unary(let o, let a), .unary(let p, let b)): o == p && a == b
        case (.binary(let o, let a, let c), .binary(let p, let b, let d)): o == p && a == b && c == d
        case (.conditional(let a, let b, let c), .conditional(let d, let e, let f)): a == d && b == e && c == f
        case (.list(let a), .list(let b)): a == b
        case (.object(let a), .object(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(String(describing: self))
    }

    /// Names of every function this expression calls, for validation.
    public var calledFunctions: [String] {
        var out: [String] = []
        visit { if case .call(let f, _) = $0 { out.append(f) } }
        return out
    }

    /// The root names this expression reads (`event` in `event.data.squad`).
    public var freeNames: Set<String> {
        var out: Set<String> = []
        visit { if case .name(let n) = $0 { out.insert(n) } }
        return out
    }

    /// The members read directly from the root name `root` (`squads` in `vars.squads[0]`).
    public func members(of root: String) -> [String] {
        var out: [String] = []
        visit { if case .member(.name(let r), let m) = $0, r == root { out.append(m) } }
        return out
    }

    func visit(_ body: (Expression) -> Void) {
        body(self)
        switch self {
        case .literal, .name: break
        case .member(let e, _): e.visit(body)
        case .index(let e, let i): e.visit(body); i.visit(body)
        case .call(_, let args): args.forEach { $0.value.visit(body) }
        case .unary(_, let e): e.visit(body)
        case .binary(_, let a, let b): a.visit(body); b.visit(body)
        case .conditional(let a, let b, let c): a.visit(body); b.visit(body); c.visit(body)
        case .list(let items): items.forEach { $0.visit(body) }
        case .object(let items): items.forEach { $0.1.visit(body) }
        }
    }
}
