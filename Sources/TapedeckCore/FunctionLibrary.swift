/// The functions that expressions may call, by name.
///
/// `FunctionLibrary.standard` holds the built-in functions; a caller can add its own
/// (for example `token()` in test scripts) with `adding(_:_:)`.
public struct FunctionLibrary: Sendable {
    /// A callable function.
    public struct Function: Sendable {
        public var body: @Sendable (inout EvaluationContext, FunctionArguments) throws -> Value
        /// Whether the result depends only on the arguments: called twice with the same arguments, it
        /// gives the same value whatever the evaluation context (its random generator, sequence, clock or
        /// scenario time). Only then may one call's result stand for another's, e.g. one delivery
        /// decision shared by connections. Unmarked functions are never assumed to be.
        public var isDeterministic: Bool

        public init(
            deterministic: Bool = false,
            _ body: @escaping @Sendable (inout EvaluationContext, FunctionArguments) throws -> Value
        ) {
            self.body = body
            self.isDeterministic = deterministic
        }
    }

    private var functions: [String: Function]

    public init(_ functions: [String: Function] = [:]) {
        self.functions = functions
    }

    public subscript(name: String) -> Function? { functions[name] }

    /// Every function name, sorted.
    public var names: [String] { functions.keys.sorted() }

    /// A copy with one more function.
    public func adding(_ name: String, _ function: Function) -> FunctionLibrary {
        var copy = self
        copy.functions[name] = function
        return copy
    }
}

/// The evaluated arguments of one call, with typed accessors that throw clear errors.
public struct FunctionArguments: Sendable {
    public var name: String
    public var positional: [Value]
    public var named: [String: Value]

    public var count: Int { positional.count }

    public func value(_ i: Int, _ label: String? = nil) -> Value? {
        if let label, let v = named[label] { return v }
        return i < positional.count ? positional[i] : nil
    }

    public func require(_ i: Int, _ label: String? = nil) throws(ExpressionError) -> Value {
        guard let v = value(i, label) else { throw ExpressionError("missing argument \(i + 1)\(label.map { " (\($0))" } ?? "")") }
        return v
    }

    public func number(_ i: Int, _ label: String? = nil) throws(ExpressionError) -> Double {
        let v = try require(i, label)
        guard let d = v.doubleValue else { throw ExpressionError("argument \(i + 1) must be a number, not \(v.kindName)") }
        return d
    }

    public func number(_ i: Int, _ label: String? = nil, default d: Double) throws(ExpressionError) -> Double {
        value(i, label).map { $0.isNull } ?? true ? d : try number(i, label)
    }

    public func string(_ i: Int, _ label: String? = nil) throws(ExpressionError) -> String {
        let v = try require(i, label)
        guard let s = v.stringValue else { throw ExpressionError("argument \(i + 1) must be a string, not \(v.kindName)") }
        return s
    }

    public func list(_ i: Int) throws(ExpressionError) -> [Value] {
        let v = try require(i)
        guard let a = v.arrayValue else { throw ExpressionError("argument \(i + 1) must be a list, not \(v.kindName)") }
        return a
    }
}
