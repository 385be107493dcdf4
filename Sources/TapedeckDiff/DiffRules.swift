public import TapedeckCore
public import TapedeckProtocol

/// What a comparison ignores, and how a message is named for alignment.
///
/// Rules come from three places, added in this order: the recording's profile (its `diff:` preset),
/// a `.tapedeck-diff.yaml` file, and `--ignore` strings. The same rules drive `tapedeck diff` and
/// reactive replay's matching of live client frames.
///
/// ```swift
/// var rules = try DiffRules(preset: profile.diff)
/// try rules.add(ignore: "$.data.id")      // a JSON path
/// try rules.add(ignore: "uuid")           // a named value pattern
/// try rules.add(ignore: "re:^tok-[0-9]+$") // a regular expression on values
/// let found = differences(expected: recorded, actual: live, rules: rules)
/// ```
public struct DiffRules: Sendable, Hashable {
    /// Locations whose values (and everything below them) never count.
    public var ignoredPaths: [JSONPath]
    /// Patterns on string values: two values that both match one count as equal.
    public var ignoredValues: [ValuePattern]
    /// How a message is named for alignment; empty means `defaultMessageKey`.
    public var messageKey: [MessageKeyPart]

    /// Without a profile, a message is named by its top-level `type`, `action` and `event` (those present).
    public static let defaultMessageKey: [MessageKeyPart] = ["$.type", "$.action", "$.event"].map { .value(JSONPath(stringLiteral: $0)) }

    /// Rules that ignore nothing.
    public init(ignoredPaths: [JSONPath] = [], ignoredValues: [ValuePattern] = [], messageKey: [MessageKeyPart] = []) {
        self.ignoredPaths = ignoredPaths
        self.ignoredValues = ignoredValues
        self.messageKey = messageKey
    }

    /// The rules of a profile's `diff:` preset (or of a rules file).
    public init(preset: DiffPreset) throws(DiffError) {
        self.init()
        try add(preset)
    }

    /// Adds a preset's paths and patterns; its key replaces the current one when it has one.
    public mutating func add(_ preset: DiffPreset) throws(DiffError) {
        ignoredPaths += preset.ignore
        for source in preset.ignoreValues { ignoredValues.append(try ValuePattern(source)) }
        if !preset.key.isEmpty { messageKey = preset.key }
    }

    /// Adds one `--ignore` rule:
    /// - a JSON path starting with `$` (`$.timestamp`, `$..updated_at`, `$.logs[*].id`);
    /// - a named value pattern (`uuid`, `iso-time`, `hex-id`);
    /// - `re:REGEX`, a regular expression that must match a whole string value.
    public mutating func add(ignore rule: String) throws(DiffError) {
        let text = String(rule.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
        if text.hasPrefix("$") {
            do {
                ignoredPaths.append(try JSONPath(parsing: text))
            } catch {
                throw .badRule(error.message)
            }
        } else if text.hasPrefix("re:") {
            ignoredValues.append(try ValuePattern(String(text.dropFirst(3))))
        } else if let named = ValuePattern.named(text) {
            ignoredValues.append(named)
        } else {
            let names = ValuePattern.named.keys.sorted().joined(separator: ", ")
            throw .badRule("'\(rule)' is neither a JSON path (starting with $), a named pattern (\(names)) nor re:REGEX")
        }
    }

    /// Whether a difference at `path` is ignored (an ignored path covers it or one of its ancestors).
    public func isIgnored(_ path: ValuePath) -> Bool {
        ignoredPaths.contains { $0.covers(path) }
    }

    /// Whether two different strings count as equal because both match one ignored value pattern.
    public func areEquivalent(_ expected: String, _ actual: String) -> Bool {
        ignoredValues.contains { $0.matches(expected) && $0.matches(actual) }
    }

    /// The alignment key of a decoded message: the key parts present, joined by `/`; `nil` when none is.
    public func key(of value: Value) -> String? {
        let parts = (messageKey.isEmpty ? Self.defaultMessageKey : messageKey).compactMap { $0.extract(from: value) }
        return parts.isEmpty ? nil : parts.joined(separator: "/")
    }

    /// A one-line summary for reports, e.g. `ignore $.timestamp, $..id; values uuid-like; key $.type`.
    public var summary: String {
        var parts: [String] = []
        if !ignoredPaths.isEmpty { parts.append("ignore " + ignoredPaths.map(\.description).joined(separator: ", ")) }
        if !ignoredValues.isEmpty {
            let names = ignoredValues.map { p in ValuePattern.named.first { $0.value == p.source }?.key ?? "/\(p.source)/" }
            parts.append("values " + names.joined(separator: ", "))
        }
        let key = messageKey.isEmpty ? Self.defaultMessageKey : messageKey
        parts.append("key " + key.map(\.description).joined(separator: " + "))
        return parts.joined(separator: "; ")
    }
}
