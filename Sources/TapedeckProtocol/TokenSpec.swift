public import TapedeckCore
import Foundation
public import OrderedCollections

/// A profile's `token:` section: the claims of the development tokens `tapedeck token` mints for
/// it, and the options that set them.
///
///     token:
///       claims: { user_id: "{{ user }}" }          # every token has them (names: user)
///       options:                                   # `tapedeck token --tenant t1`
///         tenant: { claim: tenant_id, default: acme, help: "the tenant; '' for none" }
///         squads: { claim: squads, list: true, help: comma-separated squads }
public struct TokenSpec: Sendable {
    /// Claims every token carries, as templates over `user` (the `--user` option).
    public var claims: OrderedDictionary<String, Template> = [:]
    /// Options of `tapedeck token`, by name (without the leading `--`).
    public var options: OrderedDictionary<String, Option> = [:]

    public init() {}

    /// One `--name VALUE` option of `tapedeck token`.
    public struct Option: Sendable, Hashable {
        /// The claim it sets.
        public var claim: String
        /// The value when the option is not given; `nil` for no claim.
        public var defaultValue: String?
        /// Whether the value is a comma-separated list (the claim is a list; `''` is the empty list).
        /// Otherwise the claim is the text, and `''` means no claim.
        public var list: Bool
        /// What the option is for, shown by `tapedeck token --help`.
        public var help: String?

        public init(claim: String, defaultValue: String? = nil, list: Bool = false, help: String? = nil) {
            self.claim = claim
            self.defaultValue = defaultValue
            self.list = list
            self.help = help
        }

        /// The claim's value for the option's text, `nil` for no claim.
        public func claimValue(_ text: String) -> Value? {
            if list {
                return .array(text.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) })
            }
            return text.isEmpty ? nil : .string(text)
        }
    }

    /// The specs of several profiles as one: the first to declare a claim or an option wins.
    public static func merged(_ specs: [TokenSpec]) -> TokenSpec {
        var out = TokenSpec()
        for s in specs {
            for (k, v) in s.claims where out.claims[k] == nil { out.claims[k] = v }
            for (k, v) in s.options where out.options[k] == nil { out.options[k] = v }
        }
        return out
    }

    /// The claims for a user and the options given (name -> text); `options` not declared are
    /// reported as unknown. Claims are in declaration order: the profile's `claims`, then its options.
    public func claims(user: String, given: [(name: String, value: String)]) throws(TokenOptionError) -> OrderedDictionary<String, Value> {
        var texts: [String: String] = [:]
        for (name, value) in given {
            guard options[name] != nil else { throw TokenOptionError(option: name, known: Array(options.keys)) }
            texts[name] = value
        }
        var out: OrderedDictionary<String, Value> = [:]
        var ctx = EvaluationContext(variables: ["user": .string(user)])
        for (name, template) in claims {
            if let v = try? template.evaluate(in: &ctx), !v.isNull { out[name] = v }
        }
        for (name, option) in options {
            guard let text = texts[name] ?? option.defaultValue else { continue }
            if let v = option.claimValue(text) { out[option.claim] = v } else { out[option.claim] = nil }
        }
        return out
    }
}

/// A `tapedeck token` option that no profile declares.
public struct TokenOptionError: Error, CustomStringConvertible, Sendable {
    public var option: String
    public var known: [String]
    public var description: String {
        var message = "unknown option '--\(option)'"
        if let s = Suggestion.closest(to: option, in: known) { message += "; did you mean '--\(s)'?" }
        message += known.isEmpty ? " (the profile declares no token options)" : " (the profiles' token options: \(known.map { "--" + $0 }.joined(separator: ", ")))"
        return message
    }
}
