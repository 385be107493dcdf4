public import TapedeckCore
public import TapedeckDiff

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

/// Matches with the comparison of `tapedeck diff`: structural on decoded values, under the same
/// `DiffRules` (a profile's preset of volatile fields, `--ignore` paths, value patterns).
public struct DiffRulesMatcher: ReplayMatcher {
    public var rules: DiffRules

    public init(rules: DiffRules) {
        self.rules = rules
    }

    public func firstDifference(expected: Value, actual: Value) -> ReplayDifference? {
        guard let first = differences(expected: expected, actual: actual, rules: rules).first else { return nil }
        return ReplayDifference(
            path: first.path.description, expected: first.expected.map(Self.render) ?? "(absent)",
            actual: first.actual.map(Self.render) ?? "(absent)")
    }

    static func render(_ v: Value) -> String { ScriptMessage.clip(v.jsonString) }
}
