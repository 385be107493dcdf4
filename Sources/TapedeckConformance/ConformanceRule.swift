public import TapedeckProtocol
import TapedeckCore

/// The rules a checker judges, by their key in the profile's `client:` section.
public enum ConformanceRule: String, Sendable, CaseIterable {
    case ping
    case heartbeatAck = "heartbeat_ack"
    case reconnect
    case resubscribe = "after_reconnect.resubscribe"
    case httpBefore = "after_reconnect.http_before"
    case stopOn = "stop_on"
    case maxMessageSize = "max_message_size"
    case maxRate = "max_rate"
    case sendCookie = "send_cookie"

    /// The rules `rules` states, in this enum's order.
    public static func stated(in rules: ClientRules) -> [ConformanceRule] {
        allCases.filter { $0.statement(rules) != nil }
    }

    /// What the rule asks, in words; `nil` when `rules` does not state it.
    public func statement(_ rules: ClientRules) -> String? {
        func d(_ s: Double) -> String { DurationText.format(s) }
        switch self {
        case .ping:
            return rules.ping.map { "send \($0.message.value.jsonString) every \(d($0.every)) ± \(d($0.tolerance))" }
        case .heartbeatAck:
            return rules.heartbeatAck.map { "answer each \($0.server.value.jsonString) with \($0.replyText) within \(d($0.within))" }
        case .reconnect:
            return rules.reconnect.map { r in
                let count = r.attempts ?? 6
                var s = "after a drop, reconnect after " + (1...count).map { d(r.delay(attempt: $0)) }.joined(separator: ", ")
                if r.attempts == nil { s += ", …" }
                if r.jitter > 0 { s += " (±\(Int((r.jitter * 100).rounded()))%)" }
                s += ", timing tolerance \(d(r.tolerance))"
                if let a = r.attempts { s += "; at most \(a) attempts" }
                return s
            }
        case .resubscribe:
            return rules.afterReconnect.flatMap { a in
                a.resubscribe.map { "after a reconnect, re-subscribe to every subscription (\($0.subscribe.message.value.jsonString)) within \(d(a.within))" }
            }
        case .httpBefore:
            return rules.afterReconnect.flatMap { a in a.httpBefore.map { "after a reconnect, request \($0) within \(d(a.within))" } }
        case .stopOn:
            return rules.stopOn.isEmpty ? nil : "stop trying after \(rules.stopOn.map(String.init).joined(separator: ", "))"
        case .maxMessageSize:
            return rules.maxMessageSize.map { "send messages of at most \($0) bytes" }
        case .maxRate:
            return rules.maxRate.map { "at most \($0.count) message(s) per \($0.perText) in any \(d($0.window))" }
        case .sendCookie:
            return rules.sendCookie.map { "send cookie '\($0)' with every upgrade" }
        }
    }
}
