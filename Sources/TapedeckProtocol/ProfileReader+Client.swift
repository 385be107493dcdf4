import TapedeckCore
import TapedeckScenario
import Yams

/// Issue 15: the profile's `client:` section, the rules a conforming client follows.
extension ProfileReader {
    static let clientKeys = [
        "identity", "ping", "heartbeat_ack", "reconnect", "after_reconnect", "stop_on", "max_message_size", "max_rate", "send_cookie",
    ]
    /// Names the `client:` templates read.
    static let clientIdentityNames: Set<String> = ["conn", "claims", "request", "settings", "entities"]
    static let clientMessageNames: Set<String> = ["msg", "settings"]
    static let heartbeatReplyNames: Set<String> = ["heartbeat", "settings"]

    func clientRules(_ n: Node) -> ClientRules? {
        let r = reader
        guard let pairs = r.mapping(n, what: "'client'", allowed: Self.clientKeys) else { return nil }
        var c = ClientRules(location: r.location(n))
        for (key, _, v) in pairs {
            switch key {
            case "identity": c.identity = r.template(v, names: Self.clientIdentityNames)
            case "ping": c.ping = pingRule(v)
            case "heartbeat_ack": c.heartbeatAck = heartbeatAckRule(v)
            case "reconnect": c.reconnect = reconnectRule(v)
            case "after_reconnect": c.afterReconnect = afterReconnectRule(v)
            case "stop_on":
                let items: [Node] = if case .sequence(let s) = v { Array(s) } else { [v] }
                for item in items {
                    guard let code = r.integer(item, what: "each of 'stop_on' (an HTTP status such as 401, or a close code such as 4001)") else { continue }
                    if (400...599).contains(code) || (1000...4999).contains(code) {
                        c.stopOn.append(code)
                    } else {
                        r.error("'stop_on' lists HTTP error statuses (400-599) and close codes (1000-4999), found \(code)", at: item)
                    }
                }
            case "max_message_size": c.maxMessageSize = byteSize(v, what: "'max_message_size'")
            case "max_rate": c.maxRate = rateRule(v)
            default:
                c.sendCookie = r.string(v, what: "'send_cookie' (a cookie name)")
                if isTemplate(v) { _ = r.template(v, names: ProfileNames.settingsOnly) }
            }
        }
        if c.isEmpty && r.problemCount == 0 { r.error("'client' states no rule; expected one of: \(Self.clientKeys.dropFirst().joined(separator: ", "))", at: n) }
        return c
    }

    /// A mapping's pairs by key, and an error naming every required key that is missing.
    private func required(_ n: Node, what: String, allowed: [String], required: [String], hint: String) -> [String: Node]? {
        guard let pairs = reader.mapping(n, what: what, allowed: allowed) else { return nil }
        let k = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        let missing = required.filter { k[$0] == nil }
        if !missing.isEmpty {
            reader.error("\(what) needs \(missing.map { "'\($0)'" }.joined(separator: " and ")) (\(hint))", at: n)
            return nil
        }
        return k
    }

    func pingRule(_ n: Node) -> PingRule? {
        let r = reader
        guard
            let k = required(
                n, what: "'ping'", allowed: ["message", "every", "tolerance"], required: ["message", "every"],
                hint: "the pattern of the client's ping and how often it comes, e.g. {message: {type: ping}, every: 30s, tolerance: 5s}")
        else { return nil }
        guard let every = r.duration(k["every"]!, what: "'every'", allowZero: false) else { return nil }
        let tolerance = k["tolerance"].flatMap { r.duration($0, what: "'tolerance'") } ?? every / 6
        return PingRule(message: Pattern(r.value(k["message"]!)), every: every, tolerance: tolerance)
    }

    func heartbeatAckRule(_ n: Node) -> HeartbeatAckRule? {
        let r = reader
        guard
            let k = required(
                n, what: "'heartbeat_ack'", allowed: ["server", "reply", "within"], required: ["server", "reply"],
                hint: "the pattern of the server's heartbeat and of the client's answer, a template reading 'heartbeat'")
        else { return nil }
        guard let reply = r.template(k["reply"]!, names: Self.heartbeatReplyNames) else { return nil }
        let within = k["within"].flatMap { r.duration($0, what: "'within'", allowZero: false) } ?? 10
        return HeartbeatAckRule(server: Pattern(r.value(k["server"]!)), reply: reply, replyText: r.value(k["reply"]!).jsonString, within: within)
    }

    func reconnectRule(_ n: Node) -> ReconnectRule? {
        let r = reader
        guard let pairs = r.mapping(n, what: "'reconnect'", allowed: ["delays", "initial", "factor", "jitter", "max", "attempts", "tolerance"]) else { return nil }
        let k = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        let schedule: ReconnectRule.Schedule
        if let d = k["delays"] {
            if k["initial"] != nil || k["factor"] != nil {
                r.error("'reconnect' takes either 'delays' (a list) or 'initial' and 'factor', not both", at: d)
                return nil
            }
            guard case .sequence(let seq) = d, !seq.isEmpty else {
                r.error("expected 'delays' to be a list of durations such as [1s, 2s, 4s], found \(r.describe(d))", at: d)
                return nil
            }
            let list = seq.compactMap { r.duration($0, what: "each of 'delays'") }
            guard list.count == seq.count else { return nil }
            schedule = .delays(list)
        } else if let i = k["initial"] {
            guard let initial = r.duration(i, what: "'initial'") else { return nil }
            var factor = 2.0
            if let f = k["factor"] {
                guard let value = r.number(f, what: "'factor'") else { return nil }
                if value < 1 { r.error("'factor' must be at least 1, found \(value)", at: f); return nil }
                factor = value
            }
            schedule = .exponential(initial: initial, factor: factor)
        } else {
            r.error("'reconnect' needs 'delays' (such as [1s, 2s, 4s, 8s]) or 'initial' (and 'factor', default 2)", at: n)
            return nil
        }
        var rule = ReconnectRule(schedule: schedule, max: nil, jitter: 0, attempts: nil, tolerance: 0.5)
        if let m = k["max"] { rule.max = r.duration(m, what: "'max'", allowZero: false) }
        if let j = k["jitter"], let value = r.number(j, what: "'jitter' (a fraction such as 0.2)") {
            if (0..<1).contains(value) { rule.jitter = value } else { r.error("'jitter' is a fraction from 0 to below 1 (0.2 is ±20%), found \(value)", at: j) }
        }
        if let a = k["attempts"] { rule.attempts = r.integer(a, what: "'attempts'", minimum: 1) }
        if let t = k["tolerance"], let value = r.duration(t, what: "'tolerance'") { rule.tolerance = value }
        return rule
    }

    func afterReconnectRule(_ n: Node) -> AfterReconnectRule? {
        let r = reader
        guard let pairs = r.mapping(n, what: "'after_reconnect'", allowed: ["resubscribe", "http_before", "within"]) else { return nil }
        let k = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        var rule = AfterReconnectRule(resubscribe: nil, httpBefore: nil, within: 10)
        if let s = k["resubscribe"], let sk = r.mapping(s, what: "'resubscribe'", allowed: ["subscribe", "unsubscribe"]) {
            let sub = Dictionary(sk.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            if let subscribe = sub["subscribe"].flatMap({ messageKey($0, what: "'subscribe'") }) {
                rule.resubscribe = SubscriptionReading(subscribe: subscribe, unsubscribe: sub["unsubscribe"].flatMap { messageKey($0, what: "'unsubscribe'") })
            } else if sub["subscribe"] == nil {
                r.error("'resubscribe' needs 'subscribe' ({message: <pattern of a subscribe message>, key: <template over msg naming what it subscribes to>})", at: s)
            }
        }
        if let h = k["http_before"], let hk = r.mapping(h, what: "'http_before'", allowed: ["path"]) {
            if let p = hk.first(where: { $0.key == "path" }), let path = r.string(p.value, what: "'path'") {
                if path.hasPrefix("/") { rule.httpBefore = path } else { r.error("an HTTP path starts with '/'", at: p.value) }
            } else if hk.isEmpty {
                r.error("'http_before' needs 'path' (the HTTP path requested before resuming, such as /api/v1/activity)", at: h)
            }
        }
        if let w = k["within"], let value = r.duration(w, what: "'within'", allowZero: false) { rule.within = value }
        if rule.resubscribe == nil && rule.httpBefore == nil && r.problemCount == 0 {
            r.error("'after_reconnect' needs 'resubscribe' or 'http_before'", at: n)
        }
        return rule
    }

    func messageKey(_ n: Node, what: String) -> MessageKey? {
        let r = reader
        guard
            let k = required(
                n, what: what, allowed: ["message", "key"], required: ["message", "key"],
                hint: "the pattern of the message and a template over msg naming the subscription(s)")
        else { return nil }
        guard let key = r.template(k["key"]!, names: Self.clientMessageNames) else { return nil }
        return MessageKey(message: Pattern(r.value(k["message"]!)), key: key)
    }

    func rateRule(_ n: Node) -> RateRule? {
        let r = reader
        guard
            let k = required(
                n, what: "'max_rate'", allowed: ["per", "count", "window", "message"], required: ["count", "window"],
                hint: "at most 'count' messages in any 'window', per the key 'per' (a template over msg)")
        else { return nil }
        guard let count = r.integer(k["count"]!, what: "'count'", minimum: 1), let window = r.duration(k["window"]!, what: "'window'", allowZero: false) else {
            return nil
        }
        let per = k["per"].flatMap { r.template($0, names: Self.clientMessageNames) } ?? .constant(.string("all"))
        let perText = k["per"].map { r.value($0).plainText } ?? "client"
        return RateRule(per: per, perText: perText, count: count, window: window, message: k["message"].map { Pattern(r.value($0)) })
    }

    /// A size: bytes (`10240`) or with a unit (`10KB`, `10KiB`, `1MB`; K, M and G are powers of 1024).
    func byteSize(_ n: Node, what: String) -> Int? {
        let r = reader
        guard let text = r.text(n, what: what) else { return nil }
        let t = text.trimming(" ")
        let digits = t.prefix { $0.isNumber }
        let unit = t.dropFirst(digits.count).trimming(" ").lowercased()
        let scale: Int? =
            switch unit {
            case "", "b": 1
            case "k", "kb", "kib": 1 << 10
            case "m", "mb", "mib": 1 << 20
            case "g", "gb", "gib": 1 << 30
            default: nil
            }
        guard let count = Int(digits), count > 0, let scale else {
            r.error("expected \(what) to be a size such as 10KB, 512B or 1MB, found '\(text)'", at: n)
            return nil
        }
        return count * scale
    }
}
