import TapedeckCore
public import TapedeckDiff
import TapedeckProtocol

/// Builds the matcher a replay uses: the diff preset of the recording's profile plus `--ignore` rules,
/// the same rules as `tapedeck diff`.
public enum ReplayMatchers {
    /// Without a profile, these volatile fields are ignored (times and request ids differ in any two sessions).
    public static let defaultIgnores = ["$..timestamp", "$..ts", "$..created_at", "$..updated_at", "$..request_id", "$..requestId"]

    /// - Parameters:
    ///   - profiles: the profile name(s) of the recording (comma-separated), whose `diff:` presets apply.
    ///   - ignore: more rules: JSON paths (`$.data.id`), named value patterns (`uuid`, `iso-time`) or `re:REGEX`.
    public static func make(profiles: String?, ignore: [String]) throws(ReplayError) -> DiffRulesMatcher {
        var rules = DiffRules()
        var presets = 0
        let loader = ProfileLoader()
        for name in (profiles ?? "").split(separator: ",").map({ String($0).trimmed }) where !name.isEmpty {
            guard let profile = try? loader.load(name) else { continue }
            do {
                try rules.add(profile.diff)
                presets += 1
            } catch {
                throw .invalidArgument("profile \(name): \(error)")
            }
        }
        for rule in (presets == 0 ? defaultIgnores : []) + ignore {
            do {
                try rules.add(ignore: rule)
            } catch {
                throw .invalidArgument("--ignore \(rule): \(error)")
            }
        }
        return DiffRulesMatcher(rules: rules)
    }
}
