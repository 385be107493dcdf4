public import TapedeckCore
public import TapedeckRecording
import OrderedCollections

/// Where a live message first differs from the recorded one.
public struct ReplayDifference: Sendable, Hashable, CustomStringConvertible {
    /// JSON path of the first difference, e.g. `$.payload.job_id` (`$` for the whole message).
    public var path: String
    /// The recorded value there (`(absent)` when the recording has no such field).
    public var expected: String
    /// The live value there (`(absent)` when the live message has no such field).
    public var actual: String

    public init(path: String, expected: String, actual: String) {
        self.path = path
        self.expected = expected
        self.actual = actual
    }

    public var description: String { "at \(path): expected \(expected), got \(actual)" }
}

/// Decides whether a live message matches a recorded one, structurally, on decoded values.
public protocol ReplayMatcher: Sendable {
    /// The first difference between the recorded and the live value, or `nil` when they match
    /// under the matcher's ignore rules.
    func firstDifference(expected: Value, actual: Value) -> ReplayDifference?
}

/// Structural equality on values, ignoring the fields that `ignore` selects (volatile ids, timestamps, tokens).
///
/// Object key order does not matter; integers and doubles compare by value. An ignored field may also be
/// missing on either side.
public struct StructuralMatcher: ReplayMatcher {
    public var ignore: [JSONPath]

    public init(ignore: [JSONPath] = []) {
        self.ignore = ignore
    }

    static let ignoredMarker = Value.string("\u{0}tapedeck-ignored\u{0}")

    public func firstDifference(expected: Value, actual: Value) -> ReplayDifference? {
        var e = expected
        var a = actual
        for path in ignore {
            _ = path.replace(in: &e, with: Self.ignoredMarker)
            _ = path.replace(in: &a, with: Self.ignoredMarker)
        }
        return Self.compare(e, a, path: "$")
    }

    static func compare(_ e: Value, _ a: Value, path: String) -> ReplayDifference? {
        if e == ignoredMarker || a == ignoredMarker { return nil }
        switch (e, a) {
        case (.object(let eo), .object(let ao)):
            for (key, ev) in eo {
                let childPath = Self.child(path, key)
                guard let av = ao[key] else {
                    if ev == ignoredMarker { continue }
                    return ReplayDifference(path: childPath, expected: render(ev), actual: "(absent)")
                }
                if let d = compare(ev, av, path: childPath) { return d }
            }
            for (key, av) in ao where eo[key] == nil && av != ignoredMarker {
                return ReplayDifference(path: Self.child(path, key), expected: "(absent)", actual: render(av))
            }
            return nil
        case (.array(let ea), .array(let aa)):
            for i in 0..<min(ea.count, aa.count) {
                if let d = compare(ea[i], aa[i], path: "\(path)[\(i)]") { return d }
            }
            if ea.count != aa.count {
                let i = min(ea.count, aa.count)
                return ReplayDifference(
                    path: "\(path)[\(i)]", expected: i < ea.count ? render(ea[i]) : "(absent)",
                    actual: i < aa.count ? render(aa[i]) : "(absent)")
            }
            return nil
        default:
            if let x = e.doubleValue, let y = a.doubleValue, e.kindName != "bool", a.kindName != "bool" {
                return x == y ? nil : ReplayDifference(path: path, expected: render(e), actual: render(a))
            }
            return e == a ? nil : ReplayDifference(path: path, expected: render(e), actual: render(a))
        }
    }

    static func child(_ path: String, _ key: String) -> String {
        let plain = !key.isEmpty && key.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } && !(key.first?.isNumber ?? true)
        return plain ? "\(path).\(key)" : "\(path)['\(key)']"
    }

    static func render(_ v: Value) -> String { ScriptMessage.clip(v.jsonString) }
}
