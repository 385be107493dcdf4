public import TapedeckCore

/// One structural difference between an expected and an actual value, at a JSON path.
public struct ValueDifference: Sendable, Hashable, CustomStringConvertible {
    /// What differs.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// The same kind of value (string, number, bool), another value.
        case changed
        /// A field or list element only the actual value has.
        case added
        /// A field or list element only the expected value has.
        case removed
        /// Another kind of value: a string for a number, `null` for an object, ...
        case typeChanged = "type_changed"
    }

    /// Where: `$` for the whole message, `$.data.status`, `$.logs[2].id`.
    public var path: ValuePath
    public var kind: Kind
    /// The expected (left, baseline) value; `nil` when added.
    public var expected: Value?
    /// The actual (right) value; `nil` when removed.
    public var actual: Value?

    public init(path: ValuePath, kind: Kind, expected: Value?, actual: Value?) {
        self.path = path
        self.kind = kind
        self.expected = expected
        self.actual = actual
    }

    /// `$.data.status: changed "open" -> "closed"`.
    public var description: String {
        let e = expected.map { Self.short($0) } ?? "(absent)"
        let a = actual.map { Self.short($0) } ?? "(absent)"
        switch kind {
        case .changed: return "\(path): changed \(e) -> \(a)"
        case .added: return "\(path): added \(a)"
        case .removed: return "\(path): removed \(e)"
        case .typeChanged: return "\(path): type changed \(expected?.kindName ?? "?") \(e) -> \(actual?.kindName ?? "?") \(a)"
        }
    }

    /// A value as compact JSON, cut to `limit` characters.
    static func short(_ value: Value, limit: Int = 80) -> String {
        let text = value.jsonString
        return text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }
}
