extension ConformanceReport {
    /// A readable summary: one line per client and rule, failures with their first evidence.
    public var summaryText: String {
        let c = counts
        var lines = ["client conformance (\(source), \(ConformanceChecker.seconds(duration)) observed): \(clients.count) client(s); \(c.pass) rules passed, \(c.fail) failed, \(c.notExercised) not exercised"]
        if clients.isEmpty { lines.append("  no client connected to a profile with client rules") }
        for client in clients {
            lines.append("  \(client.profile) \(client.client) (\(client.attempts) upgrade(s)): \(client.status.rawValue.uppercased())")
            for r in client.rules {
                let mark = switch r.status {
                case .pass: "pass"
                case .fail: "FAIL"
                case .notExercised: "n/a "
                }
                var line = "    \(mark)  \(r.rule)"
                if r.status == .fail, let e = r.evidence.first {
                    line += ": \(e.message) [t=\(ConformanceChecker.seconds(e.time))]"
                    if r.failures > 1 { line += " (+\(r.failures - 1) more)" }
                } else if r.status == .pass {
                    line += " (\(r.passes) check\(r.passes == 1 ? "" : "s"))"
                }
                lines.append(line)
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
