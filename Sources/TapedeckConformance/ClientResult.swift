/// One client's results: every rule its profile states.
public struct ClientResult: Sendable, Hashable {
    /// The profile the client spoke.
    public var profile: String
    /// Who the client is (the identity its profile derives, else its address).
    public var client: String
    /// Upgrade attempts, accepted or refused.
    public var attempts: Int
    public var rules: [RuleResult]

    public init(profile: String, client: String, attempts: Int, rules: [RuleResult]) {
        self.profile = profile
        self.client = client
        self.attempts = attempts
        self.rules = rules
    }

    /// `fail` when any rule failed, else `pass` when any passed, else `not_exercised`.
    public var status: RuleStatus { rules.map(\.status).min() ?? .notExercised }
}
