public import OrderedCollections

/// Tapedeck's one value model: a JSON-like value whose objects keep their key order.
///
/// Every frame, scenario event, template result and recorded payload is a `Value`.
/// Codecs convert at the edge (JSON text, protobuf binary); everything inside works on this type.
public enum Value: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([Value])
    case object(OrderedDictionary<String, Value>)

    /// An empty object.
    public static var emptyObject: Value { .object([:]) }
}

extension Value {
    /// The name of this value's kind, as used in error messages ("string", "number", ...).
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "bool"
        case .int: "integer"
        case .double: "number"
        case .string: "string"
        case .array: "list"
        case .object: "object"
        }
    }

    public var isNull: Bool { if case .null = self { true } else { false } }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var arrayValue: [Value]? { if case .array(let a) = self { a } else { nil } }
    public var objectValue: OrderedDictionary<String, Value>? { if case .object(let o) = self { o } else { nil } }

    /// The value as an integer, if it is an integer or an integral double.
    public var intValue: Int? {
        switch self {
        case .int(let i): i
        case .double(let d) where d.rounded() == d && abs(d) < 9.0e18: Int(d)
        default: nil
        }
    }

    /// The value as a double, if it is a number.
    public var doubleValue: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }

    /// Truthiness as used by expressions: `null`, `false`, `0`, `""`, `[]` and `{}` are false.
    public var isTruthy: Bool {
        switch self {
        case .null: false
        case .bool(let b): b
        case .int(let i): i != 0
        case .double(let d): d != 0 && !d.isNaN
        case .string(let s): !s.isEmpty
        case .array(let a): !a.isEmpty
        case .object(let o): !o.isEmpty
        }
    }

    /// Member access: `value["key"]` on an object, `nil` otherwise or when absent.
    public subscript(key: String) -> Value? {
        get { objectValue?[key] }
        set {
            guard case .object(var o) = self else { return }
            o[key] = newValue
            self = .object(o)
        }
    }

    /// Index access on a list; negative indices count from the end.
    public subscript(index: Int) -> Value? {
        guard case .array(let a) = self else { return nil }
        let i = index < 0 ? a.count + index : index
        return a.indices.contains(i) ? a[i] : nil
    }

    /// Semantic equality: `1 == 1.0`, objects compare regardless of key order.
    public func looselyEquals(_ other: Value) -> Bool {
        switch (self, other) {
        case (.int(let a), .double(let b)): return Double(a) == b
        case (.double(let a), .int(let b)): return a == Double(b)
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.looselyEquals($1) }
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            for (k, v) in a {
                guard let w = b[k], v.looselyEquals(w) else { return false }
            }
            return true
        default: return self == other
        }
    }
}

extension Value: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: Value...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, Value)...) {
        self = .object(OrderedDictionary(elements, uniquingKeysWith: { _, b in b }))
    }
}

extension Value {
    /// A deep merge: objects merge key by key, recursively; anything else is replaced by `other`.
    public func merging(_ other: Value) -> Value {
        guard case .object(var x) = self, case .object(let y) = other else { return other }
        for (k, v) in y { x[k] = x[k].map { $0.merging(v) } ?? v }
        return .object(x)
    }
}
