/// One client's result for one rule: its status, how often the rule was checked, and the evidence
/// (every failure, up to a bound, else the first pass).
public struct RuleResult: Sendable, Hashable {
    /// The rule's key in the profile (`ping`, `reconnect`, `after_reconnect.resubscribe`, ...).
    public var rule: String
    /// What the rule asks, in words.
    public var statement: String
    public var status: RuleStatus
    /// Times the rule was checked and held.
    public var passes: Int
    /// Times it was broken.
    public var failures: Int
    public var evidence: [Evidence]

    public init(rule: String, statement: String, status: RuleStatus, passes: Int, failures: Int, evidence: [Evidence]) {
        self.rule = rule
        self.statement = statement
        self.status = status
        self.passes = passes
        self.failures = failures
        self.evidence = evidence
    }
}
