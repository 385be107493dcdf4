/// A concrete location inside a value: `$`, `$.data.id`, `$.logs[2].id`, `$['a key']`.
///
/// A `JSONPath` is a pattern that selects locations; a `ValuePath` is one location, as reported by the diff.
public struct ValuePath: Sendable, Hashable, CustomStringConvertible, Comparable {
    /// One step into an object member or a list element.
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    /// The steps from the root.
    public var components: [Component]

    /// The root, `$`.
    public static let root = ValuePath(components: [])

    public init(components: [Component] = []) { self.components = components }

    /// This path extended by an object member.
    public func appending(key: String) -> ValuePath { ValuePath(components: components + [.key(key)]) }

    /// This path extended by a list element.
    public func appending(index: Int) -> ValuePath { ValuePath(components: components + [.index(index)]) }

    /// `$.data.items[0].id`; names that are not plain identifiers are quoted: `$['a key']`.
    public var description: String {
        var out = "$"
        for c in components {
            switch c {
            case .index(let i): out += "[\(i)]"
            case .key(let k):
                if Self.isPlainName(k) { out += ".\(k)" } else { out += "['" + k.flatMap { $0 == "'" ? ["\\", "'"] : [$0] } + "']" }
            }
        }
        return out
    }

    public static func < (a: ValuePath, b: ValuePath) -> Bool { a.description < b.description }

    static func isPlainName(_ k: String) -> Bool {
        guard let first = k.unicodeScalars.first, !k.isEmpty else { return false }
        if ("0"..."9").contains(first) { return false }
        return k.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" || $0 == "$" || $0 == "@" }
    }
}
