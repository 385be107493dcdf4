/// A recursive-descent parser for `Expression`.
struct ExpressionParser {
    enum Token: Equatable {
        case number(Value)
        case string(String)
        case identifier(String)
        case symbol(String)
        case end
    }

    let chars: [Character]
    var pos = 0
    var token: Token = .end
    var tokenStart = 0
    var depth = 0

    init(source: String) {
        self.chars = Array(source)
    }

    mutating func parseAll() throws(ExpressionError) -> Expression {
        try advance()
        if token == .end { throw ExpressionError("empty expression", offset: 0) }
        let e = try parseExpression()
        guard token == .end else { throw ExpressionError("unexpected \(describe(token))", offset: tokenStart) }
        return e
    }

    // MARK: Lexer

    mutating func advance() throws(ExpressionError) {
        while pos < chars.count, chars[pos].isWhitespace { pos += 1 }
        tokenStart = pos
        guard pos < chars.count else { token = .end; return }
        let c = chars[pos]
        if c.isNumber && c.isASCII {
            token = try lexNumber()
        } else if c == "'" || c == "\"" {
            token = .string(try lexString(quote: c))
        } else if c.isLetter || c == "_" || c == "$" {
            var s = ""
            while pos < chars.count, chars[pos].isLetter || chars[pos].isNumber || chars[pos] == "_" || chars[pos] == "$" {
                s.append(chars[pos])
                pos += 1
            }
            token = .identifier(s)
        } else {
            let two = pos + 1 < chars.count ? String([c, chars[pos + 1]]) : ""
            if ["==", "!=", "<=", ">=", "&&", "||", "??"].contains(two) {
                pos += 2
                token = .symbol(two)
            } else if "+-*/%<>!()[]{}.,:?".contains(c) {
                pos += 1
                token = .symbol(String(c))
            } else if c == "=" {
                throw ExpressionError("unexpected '='; use '==' to compare", offset: pos)
            } else {
                throw ExpressionError("unexpected character '\(c)'", offset: pos)
            }
        }
    }

    mutating func lexNumber() throws(ExpressionError) -> Token {
        var s = ""
        while pos < chars.count, chars[pos].isASCII, chars[pos].isNumber || chars[pos] == "_" {
            if chars[pos] != "_" { s.append(chars[pos]) }
            pos += 1
        }
        var isInteger = true
        if pos + 1 < chars.count, chars[pos] == ".", chars[pos + 1].isASCII, chars[pos + 1].isNumber {
            isInteger = false
            s.append(".")
            pos += 1
            while pos < chars.count, chars[pos].isASCII, chars[pos].isNumber {
                s.append(chars[pos])
                pos += 1
            }
        }
        if pos < chars.count, chars[pos] == "e" || chars[pos] == "E",
            pos + 1 < chars.count, chars[pos + 1].isNumber || chars[pos + 1] == "-" || chars[pos + 1] == "+"
        {
            isInteger = false
            s.append("e")
            pos += 1
            if chars[pos] == "-" || chars[pos] == "+" { s.append(chars[pos]); pos += 1 }
            while pos < chars.count, chars[pos].isASCII, chars[pos].isNumber { s.append(chars[pos]); pos += 1 }
        }
        // A unit directly after the digits makes a duration literal, in seconds.
        var unit = ""
        while pos < chars.count, chars[pos].isLetter { unit.append(chars[pos]); pos += 1 }
        guard let number = Double(s) else { throw ExpressionError("bad number '\(s)'", offset: tokenStart) }
        if unit.isEmpty {
            if isInteger, let i = Int(s) { return .number(.int(i)) }
            return .number(.double(number))
        }
        guard let scale = DurationText.unitSeconds[unit] else {
            throw ExpressionError("unknown duration unit '\(unit)' (use ms, s, m, h or d)", offset: tokenStart)
        }
        let seconds = number * scale
        if seconds.rounded() == seconds, abs(seconds) < 1e15 { return .number(.int(Int(seconds))) }
        return .number(.double(seconds))
    }

    mutating func lexString(quote: Character) throws(ExpressionError) -> String {
        pos += 1
        var s = ""
        while true {
            guard pos < chars.count else { throw ExpressionError("unterminated string", offset: tokenStart) }
            let c = chars[pos]
            pos += 1
            if c == quote { return s }
            if c == "\\" {
                guard pos < chars.count else { throw ExpressionError("unterminated string", offset: tokenStart) }
                let e = chars[pos]
                pos += 1
                switch e {
                case "n": s.append("\n")
                case "t": s.append("\t")
                case "r": s.append("\r")
                default: s.append(e)
                }
            } else {
                s.append(c)
            }
        }
    }

    func describe(_ t: Token) -> String {
        switch t {
        case .number(let v): "number \(v)"
        case .string(let s): "string '\(s)'"
        case .identifier(let s): "'\(s)'"
        case .symbol(let s): "'\(s)'"
        case .end: "end of expression"
        }
    }

    mutating func expect(_ symbol: String) throws(ExpressionError) {
        guard token == .symbol(symbol) else {
            throw ExpressionError("expected '\(symbol)' but found \(describe(token))", offset: tokenStart)
        }
        try advance()
    }

    func isKeyword(_ word: String) -> Bool { token == .identifier(word) }

    // MARK: Grammar

    mutating func parseExpression() throws(ExpressionError) -> Expression {
        depth += 1
        defer { depth -= 1 }
        guard depth < 200 else { throw ExpressionError("expression nested too deeply", offset: tokenStart) }
        let condition = try parseCoalesce()
        if token == .symbol("?") {
            try advance()
            let a = try parseExpression()
            try expect(":")
            let b = try parseExpression()
            return .conditional(condition, a, b)
        }
        return condition
    }

    mutating func parseCoalesce() throws(ExpressionError) -> Expression {
        var lhs = try parseOr()
        while token == .symbol("??") {
            try advance()
            lhs = .binary(.coalesce, lhs, try parseOr())
        }
        return lhs
    }

    mutating func parseOr() throws(ExpressionError) -> Expression {
        var lhs = try parseAnd()
        while isKeyword("or") || token == .symbol("||") {
            try advance()
            lhs = .binary(.or, lhs, try parseAnd())
        }
        return lhs
    }

    mutating func parseAnd() throws(ExpressionError) -> Expression {
        var lhs = try parseNot()
        while isKeyword("and") || token == .symbol("&&") {
            try advance()
            lhs = .binary(.and, lhs, try parseNot())
        }
        return lhs
    }

    mutating func parseNot() throws(ExpressionError) -> Expression {
        if isKeyword("not") || token == .symbol("!") {
            try advance()
            return .unary(.not, try parseNot())
        }
        return try parseComparison()
    }

    mutating func parseComparison() throws(ExpressionError) -> Expression {
        let lhs = try parseAdditive()
        let ops: [String: Expression.BinaryOperator] = [
            "==": .equal, "!=": .notEqual, "<": .less, "<=": .lessOrEqual, ">": .greater, ">=": .greaterOrEqual,
        ]
        if case .symbol(let s) = token, let op = ops[s] {
            try advance()
            return .binary(op, lhs, try parseAdditive())
        }
        if isKeyword("in") {
            try advance()
            return .binary(.in, lhs, try parseAdditive())
        }
        if isKeyword("not") {
            // `a not in b`
            let save = (pos, token, tokenStart)
            try advance()
            if isKeyword("in") {
                try advance()
                return .unary(.not, .binary(.in, lhs, try parseAdditive()))
            }
            (pos, token, tokenStart) = save
        }
        return lhs
    }

    mutating func parseAdditive() throws(ExpressionError) -> Expression {
        var lhs = try parseMultiplicative()
        while token == .symbol("+") || token == .symbol("-") {
            let op: Expression.BinaryOperator = token == .symbol("+") ? .add : .subtract
            try advance()
            lhs = .binary(op, lhs, try parseMultiplicative())
        }
        return lhs
    }

    mutating func parseMultiplicative() throws(ExpressionError) -> Expression {
        var lhs = try parseUnary()
        while true {
            let op: Expression.BinaryOperator
            switch token {
            case .symbol("*"): op = .multiply
            case .symbol("/"): op = .divide
            case .symbol("%"): op = .remainder
            default: return lhs
            }
            try advance()
            lhs = .binary(op, lhs, try parseUnary())
        }
    }

    mutating func parseUnary() throws(ExpressionError) -> Expression {
        if token == .symbol("-") {
            try advance()
            let operand = try parseUnary()
            if case .literal(.int(let i)) = operand { return .literal(.int(-i)) }
            if case .literal(.double(let d)) = operand { return .literal(.double(-d)) }
            return .unary(.negate, operand)
        }
        return try parsePostfix()
    }

    mutating func parsePostfix() throws(ExpressionError) -> Expression {
        var e = try parsePrimary()
        while true {
            switch token {
            case .symbol("."):
                try advance()
                guard case .identifier(let name) = token else {
                    throw ExpressionError("expected a member name after '.'", offset: tokenStart)
                }
                try advance()
                e = .member(e, name)
            case .symbol("["):
                try advance()
                let i = try parseExpression()
                try expect("]")
                e = .index(e, i)
            case .symbol("("):
                guard let name = Self.dottedName(e) else {
                    throw ExpressionError("only named functions can be called", offset: tokenStart)
                }
                try advance()
                e = .call(name, try parseArguments())
            default:
                return e
            }
        }
    }

    static func dottedName(_ e: Expression) -> String? {
        switch e {
        case .name(let n): n
        case .member(let base, let n): dottedName(base).map { $0 + "." + n }
        default: nil
        }
    }

    mutating func parseArguments() throws(ExpressionError) -> [Expression.Argument] {
        var args: [Expression.Argument] = []
        if token == .symbol(")") { try advance(); return args }
        while true {
            var label: String?
            if case .identifier(let name) = token {
                let save = (pos, token, tokenStart)
                try advance()
                if token == .symbol(":") {
                    label = name
                    try advance()
                } else {
                    (pos, token, tokenStart) = save
                }
            }
            args.append(.init(label: label, value: try parseExpression()))
            if token == .symbol(",") { try advance(); continue }
            try expect(")")
            return args
        }
    }

    mutating func parsePrimary() throws(ExpressionError) -> Expression {
        switch token {
        case .number(let v):
            try advance()
            return .literal(v)
        case .string(let s):
            try advance()
            return .literal(.string(s))
        case .identifier(let name):
            try advance()
            switch name {
            case "true": return .literal(.bool(true))
            case "false": return .literal(.bool(false))
            case "null", "nil": return .literal(.null)
            default: return .name(name)
            }
        case .symbol("("):
            try advance()
            let e = try parseExpression()
            try expect(")")
            return e
        case .symbol("["):
            try advance()
            var items: [Expression] = []
            if token == .symbol("]") { try advance(); return .list(items) }
            while true {
                items.append(try parseExpression())
                if token == .symbol(",") {
                    try advance()
                    if token == .symbol("]") { try advance(); return .list(items) }
                    continue
                }
                try expect("]")
                return .list(items)
            }
        case .symbol("{"):
            try advance()
            var items: [(String, Expression)] = []
            if token == .symbol("}") { try advance(); return .object(items) }
            while true {
                let key: String
                switch token {
                case .identifier(let k), .string(let k): key = k
                default: throw ExpressionError("expected an object key but found \(describe(token))", offset: tokenStart)
                }
                try advance()
                try expect(":")
                items.append((key, try parseExpression()))
                if token == .symbol(",") {
                    try advance()
                    if token == .symbol("}") { try advance(); return .object(items) }
                    continue
                }
                try expect("}")
                return .object(items)
            }
        default:
            throw ExpressionError("expected a value but found \(describe(token))", offset: tokenStart)
        }
    }
}
