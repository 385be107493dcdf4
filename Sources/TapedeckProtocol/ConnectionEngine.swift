public import TapedeckCore
public import OrderedCollections
import DequeModule

/// One subscription of a connection.
public struct Subscription: Sendable, Hashable {
    public var key: String
    /// Topics it covers; `*` covers every topic.
    public var topics: [String]
    /// Parameters the profile's filter reads as `sub.params`.
    public var params: Value

    public var value: Value { ["key": .string(key), "topics": .array(topics.map(Value.string)), "params": params] }
}

/// What the engine asks the connection to do.
public enum EngineAction: Sendable, Equatable {
    /// Send a message to the client.
    case send(Value)
    /// Close the connection.
    case close(code: Int, reason: String)
    /// A profile rule failed at runtime; log it.
    case log(String)
    /// Clear the history of this key (see `HistorySpec.owner`).
    case clearHistory(key: String)
}

/// A client frame after decoding.
public enum InboundMessage: Sendable {
    /// A decoded message and its raw text (for JSON) or a hex preview (for binary).
    case message(Value, raw: String)
    /// A frame the codec could not decode.
    case undecodable(error: String, raw: String)
}

/// The protocol state of one connection: subscriptions, limits and rules.
///
/// A pure state machine: it never touches a socket or a clock. The server feeds it client messages
/// and the current time, and performs the actions it returns.
public struct ConnectionEngine: Sendable {
    public let profile: Profile
    /// The connection's identity and state, as templates see it (`conn`).
    public private(set) var conn: Value { didSet { deliveryRevision &+= 1 } }
    /// Current subscriptions, in the order they were made.
    public private(set) var subscriptions: OrderedDictionary<String, Subscription> = [:] { didSet { deliveryRevision &+= 1 } }
    /// Changes whenever something ``deliveryKey`` reads changes (the identity, the subscriptions).
    public private(set) var deliveryRevision = 0
    /// The fields of `conn` the delivery predicates read (`nil`: all of it), when their decisions
    /// may be shared between connections (see ``deliveryKey``); `nil` when they may not.
    let sharedDelivery: DeliveryReads?

    struct DeliveryReads: Sendable {
        var connFields: [String]?
    }
    let entities: Value
    let settings: Value
    var explicitlySubscribed = false
    var inboundTimes: Deque<Double> = []
    /// Monotonic time (seconds) of the last client heartbeat.
    public private(set) var lastHeartbeat: Double
    var random: SeededRandom
    let sharedLimiter: SharedRateLimiter?
    /// Whether any rule subscribes (fixed by the profile).
    let hasSubscribeRule: Bool
    /// Messages evaluated so far, for `seq()` in replies.
    var sequence = 0
    /// The client heartbeat timeout in seconds, resolved against the settings.
    public let clientTimeout: Double?
    /// Server heartbeat interval and grace, resolved against the settings.
    public let serverHeartbeat: (every: Double, grace: Double)?
    var heartbeatsSent = 0
    /// Heartbeat ids sent and not yet acknowledged, with the time they were sent.
    var unacknowledged: OrderedDictionary<String, Double> = [:]
    /// Running timers by name: the profile's `timers:` and the heartbeats, which are timers too
    /// (named `heartbeat:client` and `heartbeat:server`, names a profile cannot give).
    public private(set) var timers: OrderedDictionary<String, RunningTimer> = [:]
    /// The monotonic time of the latest input (creation, message, tick): when timers started by
    /// actions start.
    var now: Double

    static let clientHeartbeatTimer = "heartbeat:client"
    static let serverHeartbeatTimer = "heartbeat:server"

    /// A timer's next deadline.
    public struct RunningTimer: Sendable, Equatable {
        /// Monotonic seconds when it fires next.
        public var due: Double
        /// Times it has fired.
        public var fired: Int
        /// Its repeat interval, if it repeats.
        public var every: Double?
    }

    /// - Parameters:
    ///   - conn: the identity from authentication.
    ///   - entities, settings: the scenario world for this profile.
    ///   - now: monotonic seconds.
    ///   - sharedLimiter: the counters of `limits.shared`, common to every connection of the profile.
    public init(
        profile: Profile, conn: Value, entities: Value, settings: Value, now: Double, seed: UInt64 = 0,
        sharedLimiter: SharedRateLimiter? = nil
    ) {
        self.sharedLimiter = sharedLimiter
        self.hasSubscribeRule = profile.rules.contains { $0.actions.subscribe != nil }
        self.profile = profile
        self.conn = conn
        self.entities = entities
        self.settings = settings
        self.lastHeartbeat = now
        self.random = SeededRandom(seed: seed)
        let hb = profile.heartbeat
        self.clientTimeout = hb.clientTimeoutSetting.map { $0.value(settings: settings, entities: entities) } ?? hb.clientTimeout
        if let server = hb.server, let every = server.every.value(settings: settings, entities: entities) {
            self.serverHeartbeat = (every, server.grace.value(settings: settings, entities: entities) ?? every)
        } else {
            self.serverHeartbeat = nil
        }
        self.now = now
        self.sharedDelivery = Self.deliveryReads(of: profile)
        if let timeout = clientTimeout { timers[Self.clientHeartbeatTimer] = RunningTimer(due: now + timeout, fired: 0, every: nil) }
        if let (every, _) = serverHeartbeat { timers[Self.serverHeartbeatTimer] = RunningTimer(due: now + every, fired: 0, every: every) }
        if case .object = self.conn {} else { self.conn = .emptyObject }
        self.conn["state"] = self.conn["state"] ?? .emptyObject
    }

    /// Initial subscriptions and `on_connect` messages.
    ///
    /// - Parameter history: the stored history of this connection's `history.owner` key, oldest first.
    public mutating func start(wallTime: Double, history: [Value] = []) -> [EngineAction] {
        var out: [EngineAction] = []
        var ctx = context(msg: .null, raw: "", wallTime: wallTime)
        ctx.variables["history"] = .array(history)
        for timer in profile.timers where timer.startOnConnect { startTimer(timer.name) }
        for s in profile.subscriptions.initial {
            do {
                try add(s, ctx: &ctx, out: &out, enforceLimit: false)
            } catch {
                out.append(.log("initial subscription: \(error.message)"))
            }
        }
        // Every on_connect rule whose pattern and condition hold runs, in order.
        for rule in profile.onConnect {
            if let when = rule.when, !when.matches(.null) { continue }
            if let condition = rule.condition {
                do {
                    guard try condition.evaluate(in: &ctx).isTruthy else { continue }
                } catch {
                    out.append(.log("on_connect rule at \(rule.location): \(error.message)"))
                    continue
                }
            }
            run(rule.actions, ctx: &ctx, out: &out)
            if out.contains(where: { if case .close = $0 { true } else { false } }) { break }
        }
        return out
    }

    /// The history key of this connection (`history.owner`, its first key when a list), if the
    /// profile keeps history: the key `clear_history` clears.
    public var historyKey: String? { historyKeys.first }

    /// Every history key this connection reads (`history.owner`: a key or a list of keys).
    public var historyKeys: [String] {
        guard let h = profile.history else { return [] }
        var ctx = EvaluationContext(variables: ["conn": conn, "settings": settings, "entities": entities])
        guard let v = try? h.owner.evaluate(in: &ctx), !v.isNull else { return [] }
        return (v.arrayValue ?? [v]).filter { !$0.isNull }.map(\.plainText)
    }

    /// Time-driven work at monotonic time `now`: the timers that are due (the client heartbeat
    /// timeout first, then the server heartbeat's grace, then the others in deadline order, each at
    /// most once per call), stopping at the first close.
    public mutating func tick(now: Double, wallTime: Double) -> [EngineAction] {
        self.now = now
        if let t = timers[Self.clientHeartbeatTimer], t.due <= now {
            timers[Self.clientHeartbeatTimer] = nil
            var ctx = context(msg: .null, raw: "", wallTime: wallTime)
            let c = profile.heartbeat.timeoutClose
            return [.close(code: c.code, reason: (try? c.reason.evaluate(in: &ctx).plainText) ?? "heartbeat timeout")]
        }
        if let server = profile.heartbeat.server, let (_, grace) = serverHeartbeat, let oldest = unacknowledged.values.first, now - oldest >= grace {
            var ctx = context(msg: .null, raw: "", wallTime: wallTime)
            return [.close(code: server.close.code, reason: (try? server.close.reason.evaluate(in: &ctx).plainText) ?? "heartbeat not acknowledged")]
        }
        var out: [EngineAction] = []
        let due = timers.filter { $0.value.due <= now }.sorted { $0.value.due < $1.value.due }.map(\.key)
        for name in due {
            guard var t = timers[name], t.due <= now else { continue }
            // Rescheduled (or removed) before its actions run, so that they may start it again.
            t.fired += 1
            if let every = t.every {
                t.due = Swift.max(t.due + every, now + every / 2)
                timers[name] = t
            } else {
                timers[name] = nil
            }
            if name == Self.serverHeartbeatTimer {
                out += sendServerHeartbeat(now: now, wallTime: wallTime)
            } else if let spec = profile.timers.first(where: { $0.name == name }) {
                var ctx = context(msg: .null, raw: "", wallTime: wallTime)
                ctx.variables["timer"] = ["name": .string(name), "fired": .int(t.fired)]
                run(spec.actions, ctx: &ctx, out: &out)
            }
            if out.contains(where: { if case .close = $0 { true } else { false } }) { break }
        }
        return out
    }

    /// Sends a server heartbeat and remembers the id its ack must give (`heartbeat.server.key`).
    mutating func sendServerHeartbeat(now: Double, wallTime: Double) -> [EngineAction] {
        guard let server = profile.heartbeat.server else { return [] }
        heartbeatsSent += 1
        var ctx = context(msg: .null, raw: "", wallTime: wallTime)
        ctx.variables["heartbeat"] = ["seq": .int(heartbeatsSent)]
        do {
            let message = try server.message.evaluate(in: &ctx)
            ctx.variables["message"] = message
            let id = try server.key?.evaluate(in: &ctx).plainText ?? "\(heartbeatsSent)"
            random = ctx.random
            unacknowledged[id] = now
            // Bounded: a client that never acks is closed after `grace` anyway.
            if unacknowledged.count > 1000 { unacknowledged.removeFirst() }
            return [.send(message)]
        } catch {
            return [.log("server heartbeat: \(error.message)")]
        }
    }

    /// Starts (or restarts) a profile timer at the engine's current time; a timer whose duration
    /// the settings leave undefined does not run.
    mutating func startTimer(_ name: String) {
        guard let spec = profile.timers.first(where: { $0.name == name }) else { return }
        guard let after = spec.after.value(settings: settings, entities: entities) else {
            timers[name] = nil
            return
        }
        timers[name] = RunningTimer(due: now + after, fired: 0, every: spec.every?.value(settings: settings, entities: entities))
    }

    /// Whether a heartbeat with this id is awaiting its acknowledgement.
    public func awaitsAcknowledgement(_ id: String) -> Bool { unacknowledged[id] != nil }

    /// Handles one client message at monotonic time `now` (seconds) and wall time `wallTime`.
    public mutating func receive(_ message: InboundMessage, now: Double, wallTime: Double) -> [EngineAction] {
        var out: [EngineAction] = []
        let (msg, raw, decodeError): (Value, String, String?) =
            switch message {
            case .message(let v, let raw): (v, raw, nil)
            case .undecodable(let e, let raw): (.null, raw, e)
            }
        self.now = now
        var ctx = context(msg: msg, raw: raw, wallTime: wallTime)

        // Rate limit: refused messages are answered and not processed, and do not count.
        if let limit = profile.limits.inbound {
            while let first = inboundTimes.first, first <= now - limit.per { inboundTimes.removeFirst() }
            if inboundTimes.count >= limit.max {
                ctx.variables["limit"] = ["max": .int(limit.max), "per": .double(limit.per)]
                run(limit.actions, ctx: &ctx, out: &out)
                return out
            }
        }
        // Shared limits (per user, per tenant, ...), keyed by profile templates.
        if !profile.limits.shared.isEmpty, let limiter = sharedLimiter {
            var keyed: [(key: String, max: Int, per: Double)] = []
            for (i, shared) in profile.limits.shared.enumerated() {
                let key = "\(i):" + ((try? shared.key.evaluate(in: &ctx).plainText) ?? "")
                keyed.append((key, shared.limit.max, shared.limit.per))
            }
            if let refused = limiter.admit(keyed, now: now) {
                let limit = profile.limits.shared[refused].limit
                ctx.variables["limit"] = ["max": .int(limit.max), "per": .double(limit.per)]
                run(limit.actions, ctx: &ctx, out: &out)
                return out
            }
        }
        if profile.limits.inbound != nil { inboundTimes.append(now) }
        if decodeError == nil, profile.heartbeat.clientPattern?.matches(msg) ?? true {
            lastHeartbeat = now
            if let timeout = clientTimeout, timers[Self.clientHeartbeatTimer] != nil {
                timers[Self.clientHeartbeatTimer] = RunningTimer(due: now + timeout, fired: 0, every: nil)
            }
        }
        if decodeError == nil {
            for timer in profile.timers where timers[timer.name] != nil && (timer.resetOn?.matches(msg) ?? false) {
                startTimer(timer.name)
            }
        }

        if let decodeError {
            ctx.variables["error"] = .string(decodeError)
            if let invalid = profile.invalid { run(invalid, ctx: &ctx, out: &out) }
            return out
        }
        for rule in profile.rules {
            if let when = rule.when, !when.matches(msg) { continue }
            if let condition = rule.condition {
                do {
                    guard try condition.evaluate(in: &ctx).isTruthy else { continue }
                } catch {
                    out.append(.log("rule at \(rule.location): \(error.message)"))
                    continue
                }
            }
            run(rule.actions, ctx: &ctx, out: &out)
            return out
        }
        return out
    }

    /// Whether this connection should receive an event on `topic`: authorization, then subscriptions.
    public func accepts(event: Value, topic: String?) -> Bool {
        acceptingSubscription(event: event, topic: topic) != nil
    }

    /// The key of the first subscription that lets the event through, or `nil` when the connection
    /// should not receive it (authorization or subscriptions).
    public func acceptingSubscription(event: Value, topic: String?) -> String? {
        // The expression context is built only when the profile has a predicate to evaluate: most
        // deliveries are decided by topic alone.
        var ctx: EvaluationContext?
        if let d = profile.deliverIf {
            var c = deliveryContext(event: event, topic: topic)
            guard (try? d.evaluate(in: &c).isTruthy) ?? false else { return nil }
            ctx = c
        }
        // A profile without subscriptions (no initial ones, no subscribe rule) delivers by `deliver_if` alone.
        guard usesSubscriptions else { return "" }
        for sub in subscriptions.values {
            guard sub.topics.contains("*") || topic.map(sub.topics.contains) == true else { continue }
            guard let filter = profile.subscriptions.filter else { return sub.key }
            var c = ctx ?? deliveryContext(event: event, topic: topic)
            c.variables["sub"] = sub.value
            let passes = (try? filter.evaluate(in: &c).isTruthy) ?? false
            ctx = c
            if passes { return sub.key }
        }
        return nil
    }

    /// What decides whether an event reaches this connection, as a value: two connections of a
    /// profile with equal keys accept the same events under the same subscription keys, so the
    /// decision (``acceptingSubscription(event:topic:)``) is made once for all of them. It holds
    /// the fields of `conn` that `deliver_if` and the subscription filter read, and the
    /// subscriptions. `nil` when those predicates call a function whose result is not fixed by its
    /// arguments (`uuid()`, `now()`, ...): each connection then decides for itself.
    public var deliveryKey: DeliveryKey? {
        guard let reads = sharedDelivery else { return nil }
        let fields = reads.connFields.map { $0.map { conn[$0] ?? .null } } ?? [conn]
        return DeliveryKey(profile: profile.name, conn: fields, subscriptions: usesSubscriptions ? Array(subscriptions.values) : [])
    }

    /// See ``deliveryKey``.
    public struct DeliveryKey: Sendable, Hashable {
        var profile: String
        var conn: [Value]
        var subscriptions: [Subscription]
    }

    /// What the profile's delivery predicates read of a connection, if their decisions may be shared.
    static func deliveryReads(of profile: Profile) -> DeliveryReads? {
        let predicates = [profile.deliverIf, profile.subscriptions.filter].compactMap { $0 }
        guard predicates.allSatisfy(\.isDeterministic) else { return nil }
        var fields: Set<String> = []
        for p in predicates {
            guard let f = p.fieldsRead(of: "conn") else { return DeliveryReads(connFields: nil) }
            fields.formUnion(f)
        }
        return DeliveryReads(connFields: fields.sorted())
    }

    /// One frame of an event for one subscription (see ``deliveries(event:topic:wallTime:)``).
    public struct Delivery: Sendable, Equatable {
        /// The subscription's key (the queue's per-subscription tag); empty without subscriptions.
        public var key: String
        /// The frame: the envelope evaluated with `sub`, or the `subscriptions.end` message.
        public var message: Value
        /// Whether this event ended the subscription (`subscriptions.end`), which is now removed.
        public var ends: Bool
    }

    /// The frames of one event for this connection, for profiles that render per subscription
    /// (``Profile/rendersPerSubscription``): authorization, then every subscription whose topics and
    /// filter let the event through (only the first unless `deliver: each`), each enveloped with its
    /// own `sub`. An event that meets `subscriptions.end` sends the end message instead (none when
    /// it has no message) and removes that subscription. Failures are returned as log lines.
    public mutating func deliveries(event: Value, topic: String?, wallTime: Double) -> (deliveries: [Delivery], log: [String]) {
        var ctx = context(msg: .null, raw: "", wallTime: wallTime)
        ctx.variables = deliveryContext(event: event, topic: topic).variables
        ctx.variables["sub"] = .null
        defer { random = ctx.random }
        var out: [Delivery] = []
        do throws(ExpressionError) {
            if let d = profile.deliverIf, !(try d.evaluate(in: &ctx).isTruthy) { return ([], []) }
            let candidates = usesSubscriptions ? Array(subscriptions.values) : [Subscription(key: "", topics: ["*"], params: .emptyObject)]
            for sub in candidates {
                guard sub.topics.contains("*") || topic.map(sub.topics.contains) == true else { continue }
                ctx.variables["sub"] = sub.value
                if let filter = profile.subscriptions.filter, !(try filter.evaluate(in: &ctx).isTruthy) { continue }
                if let end = profile.subscriptions.end, try end.condition.evaluate(in: &ctx).isTruthy {
                    if let m = try end.message?.evaluate(in: &ctx) { out.append(Delivery(key: sub.key, message: m, ends: true)) }
                    subscriptions[sub.key] = nil
                } else {
                    out.append(Delivery(key: sub.key, message: try profile.envelope?.evaluate(in: &ctx) ?? event, ends: false))
                }
                if !profile.subscriptions.deliverEach { break }
            }
            return (out, [])
        } catch {
            return (out, ["delivery of an event on topic \(topic ?? "-"): \(error.message)"])
        }
    }

    private func deliveryContext(event: Value, topic: String?) -> EvaluationContext {
        let t: Value = topic.map(Value.string) ?? .null
        return EvaluationContext(variables: ["event": event, "topic": t, "conn": conn, "settings": settings, "entities": entities])
    }

    /// When ``tick(now:wallTime:)`` next has work to do, in monotonic seconds (the client heartbeat
    /// timeout, an unacknowledged heartbeat's grace, or the next server heartbeat); `nil` when it
    /// never will. A client message can only move it later, so sleeping until it is never late.
    public var nextTickTime: Double? {
        var next: Double?
        func consider(_ t: Double) { next = Swift.min(next ?? t, t) }
        for t in timers.values { consider(t.due) }
        if profile.heartbeat.server != nil, let (_, grace) = serverHeartbeat, let oldest = unacknowledged.values.first {
            consider(oldest + grace)
        }
        return next
    }

    /// Whether the client has asked for events: it subscribed explicitly, or the profile has no
    /// subscribe rule (events flow from its initial subscriptions alone).
    /// A profile whose initial subscriptions are permanent (`replace_initial: false`) wants events from
    /// the moment a connection opens.
    public var wantsEvents: Bool {
        explicitlySubscribed || !hasSubscribeRule
            || (!profile.subscriptions.initial.isEmpty && !profile.subscriptions.replaceInitial)
    }

    /// Whether delivery goes through subscriptions at all (checked for every event, so computed once).
    var usesSubscriptions: Bool { !profile.subscriptions.initial.isEmpty || hasSubscribeRule }

    /// Whether the client heartbeat has timed out at monotonic time `now`.
    public func heartbeatExpired(now: Double) -> Bool {
        guard let t = timers[Self.clientHeartbeatTimer] else { return clientTimeout != nil }
        return now >= t.due
    }

    mutating func context(msg: Value, raw: String, wallTime: Double) -> EvaluationContext {
        sequence += 1
        return EvaluationContext(
            variables: [
                "msg": msg, "raw": .string(raw), "conn": conn, "settings": settings, "entities": entities,
                "subscriptions": .array(subscriptions.values.map(\.value)), "error": .null, "limit": .null,
                "history": .array([]), "item": .null, "index": .null,
            ],
            random: random, sequence: sequence, now: wallTime)
    }

    mutating func run(_ a: Actions, ctx: inout EvaluationContext, out: inout [EngineAction]) {
        do throws(ExpressionError) {
            if let s = a.subscribe {
                let limited = try add(s, ctx: &ctx, out: &out, enforceLimit: true)
                if limited { return }
            }
            if let u = a.unsubscribe { try remove(u, ctx: &ctx) }
            if let set = a.set {
                let v = try set.evaluate(in: &ctx)
                var state = conn["state"] ?? .emptyObject
                for (k, x) in v.objectValue ?? [:] { state[k] = x }
                conn["state"] = state
                ctx.variables["conn"] = conn
            }
            if a.clearHistory, let key = historyKey {
                out.append(.clearHistory(key: key))
                ctx.variables["history"] = .array([])
            }
            if let ack = a.ack { unacknowledged[try ack.evaluate(in: &ctx).plainText] = nil }
            for name in a.cancelTimers { timers[name] = nil }
            for name in a.startTimers { startTimer(name) }
            for name in a.resetTimers where timers[name] != nil { startTimer(name) }
            for r in a.reply { out.append(.send(try r.evaluate(in: &ctx))) }
            if let replies = a.replies {
                let v = try replies.evaluate(in: &ctx)
                guard let list = v.arrayValue ?? (v.isNull ? [] : nil) else {
                    throw ExpressionError("'replies' must be a list of messages, found \(v.kindName)")
                }
                for m in list { out.append(.send(m)) }
            }
            if let each = a.each {
                let items = try each.items.evaluate(in: &ctx)
                guard let list = items.arrayValue ?? (items.isNull ? [] : nil) else {
                    throw ExpressionError("'each' items must be a list, found \(items.kindName)")
                }
                for (i, item) in list.enumerated() {
                    ctx.variables["item"] = item
                    ctx.variables["index"] = .int(i)
                    out.append(.send(try each.message.evaluate(in: &ctx)))
                }
            }
            if let c = a.close { out.append(.close(code: c.code, reason: try c.reason.evaluate(in: &ctx).plainText)) }
        } catch {
            // A message the rule cannot work with (topics that are not a list, ...) is invalid.
            if ctx.variables["error"]?.isNull ?? true, let invalid = profile.invalid {
                ctx.variables["error"] = .string(error.message)
                run(invalid, ctx: &ctx, out: &out)
            } else {
                out.append(.log(error.message))
            }
        }
        random = ctx.random
    }

    /// Adds subscriptions; returns true when the limit refused them.
    @discardableResult
    mutating func add(_ s: SubscribeAction, ctx: inout EvaluationContext, out: inout [EngineAction], enforceLimit: Bool) throws(ExpressionError) -> Bool {
        let topicsValue = try s.topics.evaluate(in: &ctx)
        let topics: [String]
        switch topicsValue {
        case .string(let t): topics = [t]
        case .array(let items):
            topics = try items.map { v throws(ExpressionError) -> String in
                guard let t = v.stringValue else { throw ExpressionError("topics must be strings, found \(v.kindName)") }
                return t
            }
        default: throw ExpressionError("topics must be a list of strings, found \(topicsValue.kindName)")
        }
        let params = try s.params?.evaluate(in: &ctx) ?? .emptyObject
        var new: [Subscription] = []
        if let keyTemplate = s.key {
            new = [Subscription(key: try keyTemplate.evaluate(in: &ctx).plainText, topics: topics, params: params)]
        } else {
            new = topics.map { Subscription(key: $0, topics: [$0], params: params) }
        }
        if enforceLimit && profile.subscriptions.replaceInitial && !explicitlySubscribed {
            for i in profile.subscriptions.initial {
                var c = ctx
                if let k = try? i.key?.evaluate(in: &c).plainText { subscriptions[k] = nil }
                if let t = try? i.topics.evaluate(in: &c) {
                    for topic in t.arrayValue ?? [t] { if let k = topic.stringValue { subscriptions[k] = nil } }
                }
            }
        }
        if enforceLimit, let max = profile.subscriptions.max {
            let added = new.filter { subscriptions[$0.key] == nil }.count
            if subscriptions.count + added > max {
                if let over = profile.subscriptions.overLimit { run(over, ctx: &ctx, out: &out) }
                return true
            }
        }
        if enforceLimit { explicitlySubscribed = true }
        for n in new { subscriptions[n.key] = n }
        ctx.variables["subscriptions"] = .array(subscriptions.values.map(\.value))
        return false
    }

    mutating func remove(_ u: UnsubscribeAction, ctx: inout EvaluationContext) throws(ExpressionError) {
        if let k = u.key { subscriptions[try k.evaluate(in: &ctx).plainText] = nil }
        if let t = u.topics {
            let v = try t.evaluate(in: &ctx)
            let topics = Set((v.arrayValue ?? [v]).compactMap(\.stringValue))
            for (key, var sub) in subscriptions {
                sub.topics.removeAll { topics.contains($0) }
                subscriptions[key] = sub.topics.isEmpty ? nil : sub
            }
        }
        ctx.variables["subscriptions"] = .array(subscriptions.values.map(\.value))
    }
}
