/// Counts and evidence of one rule for one client while observations come in.
struct RuleTally: Sendable {
    /// At most this many pieces of evidence are kept per rule and client (failures first).
    static let maximumEvidence = 20
    /// Passes kept as evidence while nothing failed.
    static let passEvidence = 3

    var passes = 0
    var failures = 0
    var failureEvidence: [Evidence] = []
    var passEvidence: [Evidence] = []

    mutating func pass(_ e: Evidence) {
        passes += 1
        if passEvidence.count < Self.passEvidence { passEvidence.append(e) }
    }

    mutating func fail(_ e: Evidence) {
        failures += 1
        if failureEvidence.count < Self.maximumEvidence { failureEvidence.append(e) }
    }

    var status: RuleStatus { failures > 0 ? .fail : passes > 0 ? .pass : .notExercised }

    func result(rule: String, statement: String) -> RuleResult {
        RuleResult(
            rule: rule, statement: statement, status: status, passes: passes, failures: failures,
            evidence: failures > 0 ? failureEvidence : passEvidence)
    }
}
