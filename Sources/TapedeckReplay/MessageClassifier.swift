import TapedeckCore
import TapedeckProtocol
import TapedeckScenario
import OrderedCollections

/// Decides, for each message a server sent, whether it is a scenario event (and which one) or
/// something the profile's own rules send (replies, heartbeats, errors, history).
///
/// Nothing here knows a protocol: the envelope, the reply templates, the history and the topic
/// all come from the profile.
struct MessageClassifier: Sendable {
    enum Outcome: Sendable {
        case event(Value, key: String)
        case reply
        case notAnEvent
        case history
    }

    let profile: Profile?
    let inverter: EnvelopeInverter?
    /// Messages the profile's rules send: replies, heartbeats, errors, warnings.
    let replyTemplates: [Template]
    let settings: Value
    let entities: Value
    /// Items of the base scenario's history (the profile's `history.initial`).
    let historyItems: [Value]
    /// The base scenario's first events, by message key, for fields the envelope does not send.
    let baseEvents: [String: [Value]]
    /// Top-level event fields the envelope reads; `nil` when it reads the whole event.
    let envelopeFields: Set<String>?

    static let baseEventLimit = 2000

    /// Protobuf does not send default values (empty lists, zeros), so a reply may lack computed fields.
    var absentIsDefault: Bool {
        if case .protobuf = profile?.codec { return true }
        return false
    }

    init(profile: Profile?, base: Scenario?) {
        self.profile = profile
        self.inverter = profile?.envelope.map { EnvelopeInverter(envelope: $0) }
        self.settings = (profile?.settings ?? .emptyObject).merging(base?.settings ?? .emptyObject)
        self.entities = base?.entities ?? .emptyObject
        self.replyTemplates = profile.map(Self.replyTemplates) ?? []
        self.envelopeFields = profile?.envelope.flatMap(Self.eventFields)
        var history: [Value] = []
        if let initial = profile?.history?.initial, base != nil {
            var ctx = EvaluationContext(variables: ["settings": settings, "entities": entities])
            history = (try? initial.evaluate(in: &ctx))?.arrayValue ?? []
        }
        self.historyItems = history
        var byKey: [String: [Value]] = [:]
        if let base, let inverter = profile?.envelope.map({ EnvelopeInverter(envelope: $0) }) {
            var it = Timeline(scenario: base).makeIterator()
            var count = 0
            while count < Self.baseEventLimit, it.nextTime != nil {
                count += 1
                guard let event = try? it.next() else { continue }
                guard let frame = Self.render(event.value, profile: profile, settings: settings, entities: entities) else { continue }
                let volatile = inverter.readings(of: frame).first?.volatile ?? []
                byKey[Self.messageKey(frame, volatile: volatile), default: []].append(event.value)
            }
        }
        self.baseEvents = byKey
    }

    func classify(_ frame: Value) -> Outcome {
        guard let profile, let inverter else { return .event(frame, key: Self.messageKey(frame, volatile: [])) }
        if replyTemplates.contains(where: { ValueMatching.shapeMatches($0, frame, absentIsDefault: absentIsDefault) }) { return .reply }
        for reading in inverter.readings(of: frame) where verify(reading.event, frame, reading.volatile) {
            if isHistory(reading.event, profile: profile) { return .history }
            let key = Self.messageKey(frame, volatile: reading.volatile)
            if let completed = completed(reading.event, key: key), verify(completed, frame, reading.volatile) {
                return .event(completed, key: key)
            }
            return .event(reading.event, key: key)
        }
        return .notAnEvent
    }

    /// Whether the event renders to the frame again, volatile places aside.
    func verify(_ event: Value, _ frame: Value, _ volatile: Set<[FramePathComponent]>) -> Bool {
        guard let rendered = Self.render(event, profile: profile, settings: settings, entities: entities) else { return false }
        return ValueMatching.equal(rendered, frame, ignoring: volatile)
    }

    func isHistory(_ event: Value, profile: Profile) -> Bool {
        guard !historyItems.isEmpty, let spec = profile.history else { return false }
        var ctx = EvaluationContext(variables: ["event": event, "topic": .null, "settings": settings, "entities": entities])
        if let key = try? spec.key.evaluate(in: &ctx), key.isNull { return false }
        let item = (try? spec.item?.evaluate(in: &ctx)) ?? event
        return historyItems.contains { ValueMatching.equal($0, item) }
    }

    /// The event with the fields the envelope does not send (a tenant, a scope) taken from the most
    /// similar base event of the same kind.
    func completed(_ event: Value, key: String) -> Value? {
        guard let fields = envelopeFields, let candidates = baseEvents[key], !candidates.isEmpty,
            case .object(let members) = event
        else { return nil }
        let leaves = Self.leaves(event)
        var best: Value?
        var bestScore = -1
        for candidate in candidates {
            let other = Self.leaves(candidate)
            let score = leaves.reduce(0) { n, leaf in n + (other[leaf.key].map { ValueMatching.equal($0, leaf.value) } == true ? 1 : 0) }
            if score > bestScore { best = candidate; bestScore = score }
        }
        guard case .object(let hidden)? = best else { return nil }
        // The base event's key order; fields the envelope reads come from the recorded event.
        var merged = OrderedDictionary<String, Value>()
        for (k, v) in hidden {
            if fields.contains(k) { if let mine = members[k] { merged[k] = mine } } else { merged[k] = v }
        }
        for (k, v) in members where merged[k] == nil { merged[k] = v }
        return .object(merged)
    }

    // MARK: - Profile data

    /// An event as the profile's envelope sends it.
    static func render(_ event: Value, profile: Profile?, settings: Value, entities: Value) -> Value? {
        guard let profile else { return event }
        var ctx = EvaluationContext(variables: ["event": event, "topic": .null, "settings": settings, "entities": entities])
        do {
            if let topic = try profile.topic?.evaluate(in: &ctx) { ctx.variables["topic"] = .string(topic.plainText) }
            return try profile.envelope?.evaluate(in: &ctx) ?? event
        } catch {
            return nil
        }
    }

    /// Every message template the profile's rules send, except `each` (which replays stored events
    /// and so looks like events) and templates that are one expression (they match anything).
    static func replyTemplates(_ profile: Profile) -> [Template] {
        var out: [Template] = []
        for rule in profile.rules + profile.onConnect { out += rule.actions.reply }
        out += profile.invalid?.reply ?? []
        out += profile.limits.inbound?.actions.reply ?? []
        for limit in profile.limits.shared { out += limit.limit.actions.reply }
        out += profile.subscriptions.overLimit?.reply ?? []
        if let heartbeat = profile.heartbeat.server { out.append(heartbeat.message) }
        if let warning = profile.backpressure?.warning { out.append(warning) }
        return out.filter { if case .expression = $0 { false } else { true } }
    }

    /// The top-level event fields a template reads; `nil` when it reads the event as a whole.
    static func eventFields(_ template: Template) -> Set<String>? {
        var fields: Set<String> = []
        var whole = false
        func walk(_ e: Expression) {
            if let path = EnvelopeInverter.eventPath(e) {
                if let first = path.first { fields.insert(first) } else { whole = true }
                return
            }
            switch e {
            case .literal, .name: break
            case .member(let base, _): walk(base)
            case .index(let base, let i): walk(base); walk(i)
            case .call(_, let args): args.forEach { walk($0.value) }
            case .unary(_, let a): walk(a)
            case .binary(_, let a, let b): walk(a); walk(b)
            case .conditional(let a, let b, let c): walk(a); walk(b); walk(c)
            case .list(let items): items.forEach(walk)
            case .object(let items): items.forEach { walk($0.1) }
            }
        }
        template.expressions.forEach(walk)
        return whole ? nil : fields
    }

    /// The kind of a message: its top-level `type`, `action` and `event`; without those, the names
    /// of its non-volatile object members (a protobuf `oneof`, for instance).
    static func messageKey(_ frame: Value, volatile: Set<[FramePathComponent]>) -> String {
        guard case .object(let members) = frame else { return "messages" }
        var parts: [String] = ["type", "action", "event"].compactMap { k in
            switch members[k] {
            case .string(let s)?: s
            case .int(let i)?: String(i)
            default: nil
            }
        }
        if !parts.isEmpty { return parts.joined(separator: "-") }
        parts = members.compactMap { k, v in
            guard !volatile.contains([.key(k)]) else { return nil }
            switch v {
            case .object, .array: return k
            default: return nil
            }
        }
        return parts.isEmpty ? "messages" : parts.joined(separator: "-")
    }

    /// Leaves of a value by path (`a.b[0]`), for similarity.
    static func leaves(_ value: Value) -> [String: Value] {
        var out: [String: Value] = [:]
        func walk(_ v: Value, _ path: String) {
            switch v {
            case .object(let o): for (k, x) in o { walk(x, path + "." + k) }
            case .array(let a): for (i, x) in a.enumerated() { walk(x, path + "[\(i)]") }
            default: out[path] = v
            }
        }
        walk(value, "")
        return out
    }
}
