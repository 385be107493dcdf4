public import TapedeckCore
import OrderedCollections

extension ConformanceReport {
    /// The report as JSON: `{source, duration_s, passed, summary, clients: [{profile, client, status, attempts, rules: [...]}]}`.
    public var jsonValue: Value {
        let c = counts
        var out = OrderedDictionary<String, Value>()
        out["source"] = .string(source)
        out["duration_s"] = .double(Self.round(duration))
        out["passed"] = .bool(passed)
        out["summary"] = ["pass": .int(c.pass), "fail": .int(c.fail), "not_exercised": .int(c.notExercised)]
        out["clients"] = .array(
            clients.map { client in
                var o = OrderedDictionary<String, Value>()
                o["profile"] = .string(client.profile)
                o["client"] = .string(client.client)
                o["status"] = .string(client.status.rawValue)
                o["attempts"] = .int(client.attempts)
                o["rules"] = .array(client.rules.map(Self.json))
                return .object(o)
            })
        return .object(out)
    }

    static func json(_ r: RuleResult) -> Value {
        var o = OrderedDictionary<String, Value>()
        o["rule"] = .string(r.rule)
        o["statement"] = .string(r.statement)
        o["status"] = .string(r.status.rawValue)
        o["passes"] = .int(r.passes)
        o["failures"] = .int(r.failures)
        o["evidence"] = .array(
            r.evidence.map { e in
                var eo = OrderedDictionary<String, Value>()
                eo["time_s"] = .double(round(e.time))
                if let c = e.connection { eo["connection"] = .int(c) }
                eo["message"] = .string(e.message)
                if let f = e.frame { eo["frame"] = .string(f) }
                return .object(eo)
            })
        return .object(o)
    }

    static func round(_ s: Double) -> Double { (s * 1000).rounded() / 1000 }
}
