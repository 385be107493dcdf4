public import TapedeckCore
import OrderedCollections

/// A profile's `diff:` section: what comparing two sessions of this protocol ignores, and how a
/// message is named for alignment. Used by `tapedeck diff` and by reactive replay's matching.
///
/// ```yaml
/// diff:
///   key: [type, action]                 # names a message: fields (or JSON paths) joined
///   ignore: [$.timestamp, $.data.id]    # JSON paths whose values never count
///   ignore_values:                      # regexes: two values that both match count as equal
///     - '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
/// ```
///
/// For a message whose kind is the name of a member (a protobuf `oneof` in the proto3 JSON mapping),
/// a key part can be `{ member_of: $, except: [messageId, timestamp] }`: the name of the first member
/// of the object at that path that is not in `except`.
public struct DiffPreset: Sendable, Hashable {
    /// JSON paths whose values (and everything below them) never count as a difference.
    public var ignore: [JSONPath]
    /// Regular expressions (whole-value match) on string values: two values that both match one count as equal.
    public var ignoreValues: [String]
    /// How a message is named for alignment, part by part; empty means "no preference".
    public var key: [MessageKeyPart]

    public init(ignore: [JSONPath] = [], ignoreValues: [String] = [], key: [MessageKeyPart] = []) {
        self.ignore = ignore
        self.ignoreValues = ignoreValues
        self.key = key
    }

    /// Whether the preset says nothing.
    public var isEmpty: Bool { ignore.isEmpty && ignoreValues.isEmpty && key.isEmpty }
}

/// One part of a message's alignment key.
public enum MessageKeyPart: Sendable, Hashable, CustomStringConvertible {
    /// The value at a path, e.g. `$.type`.
    case value(JSONPath)
    /// The name of the first member of the object at a path that is not in `except`
    /// (the member of a protobuf `oneof`, e.g. `subscribe` in `{messageId, timestamp, subscribe: {...}}`).
    case memberName(of: JSONPath, except: [String])

    public var description: String {
        switch self {
        case .value(let p): p.description
        case .memberName(let p, let except): "member of \(p) except \(except.joined(separator: ", "))"
        }
    }

    /// This part of `value`'s key, or `nil` when the value has no such part.
    public func extract(from value: Value) -> String? {
        switch self {
        case .value(let path):
            guard let v = path.firstValue(in: value) else { return nil }
            if case .string(let s) = v { return s }
            return v.jsonString
        case .memberName(let path, let except):
            guard case .object(let o) = path.firstValue(in: value) else { return nil }
            return o.keys.first { !except.contains($0) }
        }
    }
}
