/// A log search query, as log tools write them: `level:ERROR AND NOT service:auth`.
///
/// Grammar (keywords `AND`, `OR`, `NOT` in any case; `OR` binds loosest, then `AND`, then `NOT`):
///
///     query  := or
///     or     := and ("OR" and)*
///     and    := not (["AND"] not)*          -- adjacent terms are ANDed
///     not    := "NOT" not | "-" not | "(" or ")" | term
///     term   := field ":" value | word
///
/// - `field` is a key of the log, or a dotted path into it (`metadata.component`).
/// - `value` is a bare word or a quoted string; comparison is case-insensitive. `*` alone means
///   "the field is present", a trailing `*` is a prefix match, and `>N`, `>=N`, `<N`, `<=N` compare numbers.
/// - A bare `word` matches when the log's `message` contains it (case-insensitive).
/// - An empty query matches everything.
public struct LogQuery: Sendable, Hashable {
    indirect enum Node: Sendable, Hashable {
        case all
        case and(Node, Node)
        case or(Node, Node)
        case not(Node)
        case field(path: [String], value: String)
        case text(String)
    }

    let root: Node

    /// Parses a query; throws an `ExpressionError` that says what is wrong and where.
    public init(parsing text: String) throws(ExpressionError) {
        var p = Parser(tokens: try Self.tokenize(text))
        if p.tokens.isEmpty {
            root = .all
            return
        }
        root = try p.parseOr(depth: 0)
        if p.index < p.tokens.count { throw ExpressionError("unexpected '\(p.tokens[p.index].text)' in query") }
    }

    /// Whether a log (an object) matches.
    public func matches(_ log: Value) -> Bool { Self.eval(root, log) }

    struct Token: Sendable {
        enum Kind { case open, close, and, or, not, term }
        var kind: Kind
        var text: String
    }

    static func tokenize(_ text: String) throws(ExpressionError) -> [Token] {
        var out: [Token] = []
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace { i += 1; continue }
            if c == "(" { out.append(Token(kind: .open, text: "(")); i += 1; continue }
            if c == ")" { out.append(Token(kind: .close, text: ")")); i += 1; continue }
            if c == "-" && (out.isEmpty || out.last?.kind != .term) && i + 1 < chars.count && !chars[i + 1].isWhitespace {
                out.append(Token(kind: .not, text: "-"))
                i += 1
                continue
            }
            var word = ""
            while i < chars.count, !chars[i].isWhitespace, chars[i] != "(", chars[i] != ")" {
                if chars[i] == "\"" {
                    i += 1
                    var closed = false
                    while i < chars.count {
                        if chars[i] == "\"" { closed = true; i += 1; break }
                        if chars[i] == "\\", i + 1 < chars.count { i += 1 }
                        word.append(chars[i])
                        i += 1
                    }
                    if !closed { throw ExpressionError("unterminated quoted string in query") }
                    continue
                }
                word.append(chars[i])
                i += 1
            }
            switch word.uppercased() {
            case "AND", "&&": out.append(Token(kind: .and, text: word))
            case "OR", "||": out.append(Token(kind: .or, text: word))
            case "NOT": out.append(Token(kind: .not, text: word))
            default: out.append(Token(kind: .term, text: word))
            }
        }
        return out
    }

    struct Parser {
        var tokens: [Token]
        var index = 0

        var current: Token? { index < tokens.count ? tokens[index] : nil }

        mutating func parseOr(depth: Int) throws(ExpressionError) -> Node {
            var left = try parseAnd(depth: depth)
            while current?.kind == .or {
                index += 1
                left = .or(left, try parseAnd(depth: depth))
            }
            return left
        }

        mutating func parseAnd(depth: Int) throws(ExpressionError) -> Node {
            var left = try parseNot(depth: depth)
            while let t = current, t.kind == .and || t.kind == .not || t.kind == .term || t.kind == .open {
                if t.kind == .and { index += 1 }
                left = .and(left, try parseNot(depth: depth))
            }
            return left
        }

        mutating func parseNot(depth: Int) throws(ExpressionError) -> Node {
            guard depth < 64 else { throw ExpressionError("query nested too deeply") }
            guard let t = current else { throw ExpressionError("query ends where a term was expected") }
            index += 1
            switch t.kind {
            case .not: return .not(try parseNot(depth: depth + 1))
            case .open:
                let inner = try parseOr(depth: depth + 1)
                guard current?.kind == .close else { throw ExpressionError("missing ')' in query") }
                index += 1
                return inner
            case .term: return try Self.term(t.text)
            case .close: throw ExpressionError("unexpected ')' in query")
            case .and, .or: throw ExpressionError("'\(t.text)' needs a term before it")
            }
        }

        static func term(_ text: String) throws(ExpressionError) -> Node {
            guard let colon = text.firstIndex(of: ":") else { return .text(text.lowercased()) }
            let field = String(text[..<colon])
            let value = String(text[text.index(after: colon)...])
            guard !field.isEmpty else { throw ExpressionError("'\(text)' has no field before ':'") }
            guard !value.isEmpty else { throw ExpressionError("'\(text)' has no value after ':'") }
            let path = field.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !path.contains(where: \.isEmpty) else { throw ExpressionError("'\(field)' is not a field name") }
            return .field(path: path, value: value)
        }
    }

    /// A value at a dotted path: the whole key first (`"a.b"`), then nested objects.
    static func lookup(_ path: [String], in v: Value) -> Value? {
        if let whole = v[path.joined(separator: ".")] { return whole }
        var cur = v
        for p in path {
            guard let next = cur[p] else { return nil }
            cur = next
        }
        return cur
    }

    static func eval(_ n: Node, _ log: Value) -> Bool {
        switch n {
        case .all: return true
        case .and(let a, let b): return eval(a, log) && eval(b, log)
        case .or(let a, let b): return eval(a, log) || eval(b, log)
        case .not(let a): return !eval(a, log)
        case .text(let t): return (log["message"]?.plainText.lowercased() ?? "").contains(t)
        case .field(let path, let want):
            guard let have = lookup(path, in: log), !have.isNull else { return false }
            if want == "*" { return true }
            if let items = have.arrayValue { return items.contains { compare($0, want) } }
            return compare(have, want)
        }
    }

    static func compare(_ have: Value, _ want: String) -> Bool {
        for op in [">=", "<=", ">", "<"] where want.hasPrefix(op) {
            guard let n = Double(want.dropFirst(op.count)), let h = have.doubleValue ?? Double(have.plainText) else { return false }
            switch op {
            case ">=": return h >= n
            case "<=": return h <= n
            case ">": return h > n
            default: return h < n
            }
        }
        let h = have.plainText.lowercased(), w = want.lowercased()
        if w.hasSuffix("*") { return h.hasPrefix(w.dropLast()) }
        return h == w
    }
}
