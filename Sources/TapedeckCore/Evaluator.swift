import OrderedCollections

/// Evaluation of `Expression` trees.
enum Evaluator {
    static func evaluate(_ e: Expression, in ctx: inout EvaluationContext) throws(ExpressionError) -> Value {
        switch e {
        case .literal(let v):
            return v
        case .name(let n):
            guard let v = ctx.variables[n] else {
                var message = "unknown name '\(n)'"
                if let s = Suggestion.closest(to: n, in: ctx.variables.keys) { message += "; did you mean '\(s)'?" }
                throw ExpressionError(message)
            }
            return v
        case .member(let base, let key):
            let b = try evaluate(base, in: &ctx)
            switch b {
            case .object(let o): return o[key] ?? .null
            case .array(let a) where key == "length": return .int(a.count)
            case .string(let s) where key == "length": return .int(s.count)
            default: return .null
            }
        case .index(let base, let index):
            let b = try evaluate(base, in: &ctx)
            let i = try evaluate(index, in: &ctx)
            switch (b, i) {
            case (.object(let o), .string(let k)): return o[k] ?? .null
            case (.object, .null): return .null
            case (.array, _):
                guard let n = i.intValue else { throw ExpressionError("a list index must be an integer, not \(i.kindName)") }
                return b[n] ?? .null
            case (.string(let s), _):
                guard let n = i.intValue else { throw ExpressionError("a string index must be an integer") }
                let chars = Array(s)
                let k = n < 0 ? chars.count + n : n
                return chars.indices.contains(k) ? .string(String(chars[k])) : .null
            case (.null, _): return .null
            default: throw ExpressionError("cannot index \(b.kindName) with \(i.kindName)")
            }
        case .call(let name, let args):
            guard let function = ctx.functions[name] else {
                throw .unknownFunction(name, known: ctx.functions.names, offset: nil)
            }
            var positional: [Value] = []
            var named: [String: Value] = [:]
            for a in args {
                let v = try evaluate(a.value, in: &ctx)
                if let label = a.label { named[label] = v } else { positional.append(v) }
            }
            do {
                return try function.body(&ctx, FunctionArguments(name: name, positional: positional, named: named))
            } catch let error as ExpressionError {
                throw ExpressionError("\(name)(): \(error.message)")
            } catch {
                throw ExpressionError("\(name)(): \(error)")
            }
        case .unary(.not, let a):
            return .bool(!(try evaluate(a, in: &ctx).isTruthy))
        case .unary(.negate, let a):
            switch try evaluate(a, in: &ctx) {
            case .int(let i): return .int(-i)
            case .double(let d): return .double(-d)
            case let v: throw ExpressionError("cannot negate \(v.kindName)")
            }
        case .binary(.and, let a, let b):
            let l = try evaluate(a, in: &ctx)
            return l.isTruthy ? .bool(try evaluate(b, in: &ctx).isTruthy) : .bool(false)
        case .binary(.or, let a, let b):
            let l = try evaluate(a, in: &ctx)
            return l.isTruthy ? .bool(true) : .bool(try evaluate(b, in: &ctx).isTruthy)
        case .binary(.coalesce, let a, let b):
            let l = try evaluate(a, in: &ctx)
            return l.isNull ? try evaluate(b, in: &ctx) : l
        case .binary(let op, let a, let b):
            return try binary(op, try evaluate(a, in: &ctx), try evaluate(b, in: &ctx))
        case .conditional(let c, let a, let b):
            return try evaluate(c, in: &ctx).isTruthy ? evaluate(a, in: &ctx) : evaluate(b, in: &ctx)
        case .list(let items):
            var out: [Value] = []
            out.reserveCapacity(items.count)
            for i in items { out.append(try evaluate(i, in: &ctx)) }
            return .array(out)
        case .object(let items):
            var out = OrderedDictionary<String, Value>()
            for (k, v) in items { out[k] = try evaluate(v, in: &ctx) }
            return .object(out)
        }
    }

    static func binary(_ op: Expression.BinaryOperator, _ l: Value, _ r: Value) throws(ExpressionError) -> Value {
        switch op {
        case .equal: return .bool(l.looselyEquals(r))
        case .notEqual: return .bool(!l.looselyEquals(r))
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            let c: Int
            if let a = l.doubleValue, let b = r.doubleValue {
                c = a < b ? -1 : (a > b ? 1 : 0)
            } else if let a = l.stringValue, let b = r.stringValue {
                c = a < b ? -1 : (a > b ? 1 : 0)
            } else if l.isNull || r.isNull {
                return .bool(false)
            } else {
                throw ExpressionError("cannot compare \(l.kindName) with \(r.kindName)")
            }
            switch op {
            case .less: return .bool(c < 0)
            case .lessOrEqual: return .bool(c <= 0)
            case .greater: return .bool(c > 0)
            default: return .bool(c >= 0)
            }
        case .in:
            switch r {
            case .array(let a): return .bool(a.contains { $0.looselyEquals(l) })
            case .object(let o):
                guard let k = l.stringValue else { return .bool(false) }
                return .bool(o[k] != nil)
            case .string(let s):
                guard let k = l.stringValue else { return .bool(false) }
                return .bool(s.contains(k))
            case .null: return .bool(false)
            default: throw ExpressionError("'in' needs a list, object or string on the right, not \(r.kindName)")
            }
        case .add:
            switch (l, r) {
            case (.int(let a), .int(let b)):
                let (s, o) = a.addingReportingOverflow(b)
                return o ? .double(Double(a) + Double(b)) : .int(s)
            case (.string(let a), _): return .string(a + r.plainText)
            case (_, .string(let b)): return .string(l.plainText + b)
            case (.array(let a), .array(let b)): return .array(a + b)
            case (.object(var a), .object(let b)):
                for (k, v) in b { a[k] = v }
                return .object(a)
            default:
                guard let a = l.doubleValue, let b = r.doubleValue else {
                    throw ExpressionError("cannot add \(l.kindName) and \(r.kindName)")
                }
                return .double(a + b)
            }
        case .subtract, .multiply, .divide, .remainder:
            if case .int(let a) = l, case .int(let b) = r {
                switch op {
                case .subtract:
                    let (s, o) = a.subtractingReportingOverflow(b)
                    return o ? .double(Double(a) - Double(b)) : .int(s)
                case .multiply:
                    let (s, o) = a.multipliedReportingOverflow(by: b)
                    return o ? .double(Double(a) * Double(b)) : .int(s)
                case .divide:
                    guard b != 0 else { throw ExpressionError("division by zero") }
                    return a % b == 0 ? .int(a / b) : .double(Double(a) / Double(b))
                default:
                    guard b != 0 else { throw ExpressionError("division by zero") }
                    return .int(a % b)
                }
            }
            guard let a = l.doubleValue, let b = r.doubleValue else {
                throw ExpressionError("cannot apply '\(op.rawValue)' to \(l.kindName) and \(r.kindName)")
            }
            switch op {
            case .subtract: return .double(a - b)
            case .multiply: return .double(a * b)
            case .divide:
                guard b != 0 else { throw ExpressionError("division by zero") }
                return .double(a / b)
            default:
                guard b != 0 else { throw ExpressionError("division by zero") }
                return .double(a.truncatingRemainder(dividingBy: b))
            }
        case .and, .or, .coalesce:
            return .null  // handled lazily above
        }
    }
}

extension Value {
    /// The value as text inside a larger string: strings as they are, everything else as JSON.
    public var plainText: String {
        switch self {
        case .string(let s): s
        case .null: ""
        default: jsonString
        }
    }
}
