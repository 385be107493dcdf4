import TapedeckCore

extension ConformanceReport {
    /// The report as JUnit XML: one test suite per client, one test case per rule; a failed rule
    /// is a failure carrying its evidence, a rule not exercised is skipped.
    public var junitXML: String {
        let c = counts
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"tapedeck conformance\" tests=\"\(c.pass + c.fail + c.notExercised)\" failures=\"\(c.fail)\" skipped=\"\(c.notExercised)\">\n"
        for client in clients {
            let fails = client.rules.count { $0.status == .fail }
            let skips = client.rules.count { $0.status == .notExercised }
            out += "  <testsuite name=\"\(Self.escape("\(client.profile) \(client.client)"))\" tests=\"\(client.rules.count)\" failures=\"\(fails)\" skipped=\"\(skips)\">\n"
            for r in client.rules {
                out += "    <testcase classname=\"\(Self.escape(client.profile))\" name=\"\(Self.escape(r.rule))\">\n"
                let evidence = r.evidence.map { e in
                    "t=\(ConformanceChecker.seconds(e.time))\(e.connection.map { " conn \($0)" } ?? ""): \(e.message)\(e.frame.map { "\n    frame: \($0)" } ?? "")"
                }.joined(separator: "\n")
                switch r.status {
                case .fail:
                    out += "      <failure message=\"\(Self.escape(r.evidence.first?.message ?? r.statement))\">\(Self.escape(r.statement + "\n" + evidence))</failure>\n"
                case .notExercised:
                    out += "      <skipped message=\"not exercised: \(Self.escape(r.statement))\"/>\n"
                case .pass:
                    out += "      <system-out>\(Self.escape(r.statement + "\n" + evidence))</system-out>\n"
                }
                out += "    </testcase>\n"
            }
            out += "  </testsuite>\n"
        }
        out += "</testsuites>\n"
        return out
    }

    static func escape(_ s: String) -> String { XMLText.escape(s) }
}
