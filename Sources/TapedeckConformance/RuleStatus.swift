/// How a client fared against one rule.
public enum RuleStatus: String, Sendable, Hashable, Comparable {
    /// Every time the rule applied, the client followed it.
    case pass
    /// At least once the client broke it (see the evidence).
    case fail
    /// The rule never applied (no reconnect happened, no heartbeat was sent, ...).
    case notExercised = "not_exercised"

    public static func < (a: RuleStatus, b: RuleStatus) -> Bool { a.rank < b.rank }

    var rank: Int {
        switch self {
        case .fail: 0
        case .pass: 1
        case .notExercised: 2
        }
    }
}
