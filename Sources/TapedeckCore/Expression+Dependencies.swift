extension Expression {
    /// The top-level fields of the root name `root` this expression reads (`permissions` for
    /// `conn.permissions` or `conn['permissions']`), or `nil` when it reads `root` as a whole (passes
    /// it to a function, compares it, indexes it with a computed key).
    ///
    /// Two values of `root` that agree on these fields give the expression the same result.
    public func fieldsRead(of root: String) -> Set<String>? {
        var fields: Set<String> = []
        return collectFields(of: root, into: &fields) ? fields : nil
    }

    /// Adds the fields of `root` read here; false when `root` is read as a whole.
    private func collectFields(of root: String, into fields: inout Set<String>) -> Bool {
        switch self {
        case .name(let n):
            return n != root
        case .member(.name(let n), let key) where n == root:
            fields.insert(key)
            return true
        case .index(.name(let n), .literal(.string(let key))) where n == root:
            fields.insert(key)
            return true
        case .literal:
            return true
        case .member(let e, _), .unary(_, let e):
            return e.collectFields(of: root, into: &fields)
        case .index(let e, let i):
            return e.collectFields(of: root, into: &fields) && i.collectFields(of: root, into: &fields)
        case .call(_, let args):
            return args.allSatisfy { $0.value.collectFields(of: root, into: &fields) }
        case .binary(_, let a, let b):
            return a.collectFields(of: root, into: &fields) && b.collectFields(of: root, into: &fields)
        case .conditional(let a, let b, let c):
            return a.collectFields(of: root, into: &fields) && b.collectFields(of: root, into: &fields)
                && c.collectFields(of: root, into: &fields)
        case .list(let items):
            return items.allSatisfy { $0.collectFields(of: root, into: &fields) }
        case .object(let items):
            return items.allSatisfy { $0.1.collectFields(of: root, into: &fields) }
        }
    }

    /// Whether the result depends only on the names it reads: every function it calls is a
    /// standard one that depends only on its arguments (see ``FunctionLibrary/isDeterministic(_:)``).
    public var isDeterministic: Bool { calledFunctions.allSatisfy(FunctionLibrary.isDeterministic) }
}

extension Template {
    /// ``Expression/fieldsRead(of:)`` over every expression inside.
    public func fieldsRead(of root: String) -> Set<String>? {
        var all: Set<String> = []
        for e in expressions {
            guard let f = e.fieldsRead(of: root) else { return nil }
            all.formUnion(f)
        }
        return all
    }

    /// Whether every expression inside is deterministic (``Expression/isDeterministic``).
    public var isDeterministic: Bool { expressions.allSatisfy(\.isDeterministic) }
}

extension FunctionLibrary {
    /// Whether `name` is a standard function marked deterministic where it is defined
    /// (``Function/isDeterministic``): evaluating it twice with the same arguments gives the same
    /// value. A function added with ``adding(_:_:)`` is never assumed to be.
    public static func isDeterministic(_ name: String) -> Bool {
        standard[name]?.isDeterministic ?? false
    }
}
