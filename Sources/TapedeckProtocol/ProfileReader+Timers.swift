import TapedeckCore
import TapedeckScenario
import Yams

/// Issue 12's profile keys: `subprotocols`, `timers`, `subscriptions.end`.
extension ProfileReader {
    /// `subprotocols: [name, ...]` or `{names: [...], required: bool, refusal: {status, body}}`.
    func subprotocols(_ n: Node) -> SubprotocolSpec? {
        let r = reader
        if case .mapping = n {
            guard let pairs = r.mapping(n, what: "'subprotocols'", allowed: ["names", "required", "refusal"]) else { return nil }
            let k = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            guard let names = k["names"].flatMap({ r.strings($0, what: "'names'") }), !names.isEmpty else {
                r.error("'subprotocols' needs 'names' (the subprotocols the profile speaks)", at: n)
                return nil
            }
            var spec = SubprotocolSpec(names: names, required: k["required"].flatMap { r.bool($0, what: "'required'") } ?? false)
            if let rn = k["refusal"], let pairs = r.mapping(rn, what: "'refusal'", allowed: ["status", "body"]) {
                for (key, _, v) in pairs {
                    if key == "status" {
                        if let s = r.integer(v, what: "'status'") {
                            if (400...599).contains(s) { spec.refusal.status = s } else { r.error("a refusal status is an HTTP error status (400-599)", at: v) }
                        }
                    } else if let t = r.template(v, names: ProfileNames.subprotocolRefusal) {
                        spec.refusal.body = t
                    }
                }
            }
            return spec
        }
        guard let names = r.strings(n, what: "'subprotocols'"), !names.isEmpty else { return nil }
        return SubprotocolSpec(names: names)
    }

    /// `timers: { NAME: {after, every?, on_connect?, reset_on?, then} }`.
    func timers(_ n: Node) -> [TimerSpec] {
        let r = reader
        guard let pairs = r.mapping(n, what: "'timers'", allowed: nil) else { return [] }
        var out: [TimerSpec] = []
        for (name, keyNode, v) in pairs {
            if name.isEmpty || !name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) {
                r.error("a timer name is letters, digits, '_' and '-'", at: keyNode)
                continue
            }
            guard let t = r.mapping(v, what: "timer '\(name)'", allowed: ["after", "every", "on_connect", "reset_on", "then"]) else { continue }
            let k = Dictionary(t.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            let every = k["every"].flatMap { numberSetting($0, what: "'every'") }
            guard let after = k["after"].flatMap({ numberSetting($0, what: "'after'") }) ?? every else {
                r.error("timer '\(name)' needs 'after' (when it fires) or 'every' (how often)", at: v)
                continue
            }
            let then = k["then"].flatMap { actions($0, what: "'then'", names: ProfileNames.timer, allowed: Self.actionKeys) } ?? Actions()
            out.append(
                TimerSpec(
                    name: name, after: after, every: every, startOnConnect: k["on_connect"].flatMap { r.bool($0, what: "'on_connect'") } ?? false,
                    resetOn: k["reset_on"].map { Pattern(r.value($0)) }, actions: then, location: r.location(v)))
        }
        return out
    }

    /// `subscriptions.end: {if: "{{ ... }}", message: {...}}`.
    func subscriptionEnd(_ n: Node) -> SubscriptionEnd? {
        let r = reader
        guard let pairs = r.mapping(n, what: "'end'", allowed: ["if", "message"]) else { return nil }
        let k = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        guard let c = k["if"].flatMap({ r.template($0, names: ProfileNames.subscriptionEnd) }) else {
            r.error("'end' needs 'if' (when an event ends the subscription it is delivered to)", at: n)
            return nil
        }
        return SubscriptionEnd(condition: c, message: k["message"].flatMap { r.template($0, names: ProfileNames.subscriptionEnd) })
    }

    /// Every timer an action names must be declared under `timers:`.
    func checkTimerNames(_ p: Profile, root: Node) {
        let known = Set(p.timers.map(\.name))
        var seen: [(Actions, SourceLocation)] = p.rules.map { ($0.actions, $0.location) } + p.onConnect.map { ($0.actions, $0.location) }
        seen += p.timers.map { ($0.actions, $0.location) }
        let rootLocation = reader.location(root)
        for a in [p.invalid, p.subscriptions.overLimit, p.limits.inbound?.actions].compactMap({ $0 }) + p.limits.shared.map(\.limit.actions) {
            seen.append((a, rootLocation))
        }
        for (a, location) in seen {
            for name in a.startTimers + a.resetTimers + a.cancelTimers where !known.contains(name) {
                var message = "unknown timer '\(name)'"
                if let s = Suggestion.closest(to: name, in: Array(known)) { message += "; did you mean '\(s)'?" }
                reader.error(message + (known.isEmpty ? " (declare it under 'timers:')" : " (timers: \(known.sorted().joined(separator: ", ")))"), at: location)
            }
        }
    }
}
