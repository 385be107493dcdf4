import Foundation
public import TapedeckCore
public import TapedeckScenario
import Yams

/// Loads profiles: built-in ones by name, or any profile file by path.
public struct ProfileLoader: Sendable {
    public init() {}


    /// The directory holding built-in profiles inside the binary's resources.
    static var builtinDirectory: URL? { Bundle.module.resourceURL?.appendingPathComponent("Profiles") }

    /// Path of a built-in profile's file, if it exists.
    public static func builtinPath(_ name: String) -> String? {
        guard let dir = builtinDirectory else { return nil }
        let path = dir.appendingPathComponent("\(name).yaml").path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// Names of the built-in profiles actually shipped in this binary.
    public static var availableBuiltins: [String] {
        guard let dir = builtinDirectory, let files = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return [] }
        return files.filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// Loads a built-in profile by name, or a profile file by path (relative to `relativeTo` when given).
    public func load(_ reference: String, relativeTo directory: String? = nil) throws(ScenarioErrors) -> Profile {
        if !reference.contains("/") && !reference.hasSuffix(".yaml") && !reference.hasSuffix(".yml") {
            guard let path = Self.builtinPath(reference) else {
                var message = "unknown profile '\(reference)'"
                if let s = Suggestion.closest(to: reference, in: Self.availableBuiltins) { message += "; did you mean '\(s)'?" }
                message += " (built-in profiles: \(Self.availableBuiltins.joined(separator: ", ")); or give a path to a profile file)"
                throw ScenarioErrors([ScenarioError(message, at: SourceLocation(file: reference, line: 1, column: 1))])
            }
            return try load(file: path, display: "builtin:\(reference)")
        }
        var path = reference
        if !path.hasPrefix("/"), let directory { path = (directory as NSString).appendingPathComponent(path) }
        return try load(file: path, display: path)
    }

    /// Loads a profile file.
    public func load(file path: String, display: String? = nil) throws(ScenarioErrors) -> Profile {
        let shown = display ?? path
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ScenarioErrors([ScenarioError("cannot read profile file", at: SourceLocation(file: shown, line: 1, column: 1))])
        }
        return try load(text: text, file: shown, directory: (path as NSString).deletingLastPathComponent)
    }

    /// Loads profile text.
    public func load(text: String, file: String, directory: String = ".") throws(ScenarioErrors) -> Profile {
        let r = NodeReader(file: file)
        var profile = Profile(name: "", source: file)
        guard let root = r.compose(text) else { throw ScenarioErrors(r.errors) }
        ProfileReader(reader: r, directory: directory).read(root, into: &profile)
        if !r.errors.isEmpty { throw ScenarioErrors(r.errors) }
        return profile
    }
}

/// Root names visible to each kind of profile template.
enum ProfileNames {
    static let event: Set<String> = ["event", "topic", "settings", "entities"]
    static let delivery: Set<String> = ["event", "topic", "conn", "settings", "entities"]
    static let filter: Set<String> = ["event", "topic", "sub", "conn", "settings", "entities"]
    static let message: Set<String> = ["msg", "raw", "conn", "subscriptions", "settings", "entities", "error", "limit", "history", "item", "index"]
    static let settingsOnly: Set<String> = ["settings", "entities"]
    static let historyOwner: Set<String> = ["conn", "settings", "entities"]
    static let heartbeatMessage: Set<String> = ["heartbeat", "conn", "settings", "entities"]
    static let warning: Set<String> = ["dropped", "subscription", "conn", "settings", "entities"]
    static let identity: Set<String> = ["claims", "request", "settings", "entities"]
    static let access: Set<String> = ["claims", "request", "conn", "settings", "entities", "connections"]
    static let connectionIdentity: Set<String> = ["claims", "request", "conn", "settings", "entities"]
    static let connectionRefusal: Set<String> = ["claims", "request", "conn", "settings", "entities", "reason", "status", "limit"]
    // Issue 12: per-subscription envelopes, subscription ends, timers, subprotocol refusals.
    static let envelope: Set<String> = event.union(["sub", "conn"])
    static let subscriptionEnd: Set<String> = filter
    static let timer: Set<String> = message.union(["timer"])
    static let heartbeatKey: Set<String> = heartbeatMessage.union(["message"])
    static let subprotocolRefusal: Set<String> = ["request", "offered", "settings", "entities"]
}

struct ProfileReader {
    let reader: NodeReader
    let directory: String

    static let topKeys = [
        "profile", "description", "spec", "codec", "endpoints", "auth", "settings", "topic", "envelope", "deliver_if",
        "subscriptions", "limits", "heartbeat", "on_connect", "on", "invalid", "activity", "history", "backpressure",
        "diff",
        "requires",
        "token",
        "subprotocols", "timers",
        "compression",
        "client",
    ]

    /// `requires: { entities: { <table>: [field, ...] }, events: [field.path, ...] }`.
    func requirements(_ n: Node) -> Requirements {
        var out = Requirements()
        let r = reader
        guard let pairs = r.mapping(n, what: "'requires'", allowed: ["entities", "events"]) else { return out }
        for pair in pairs {
            if pair.key == "events" {
                let names = (r.value(pair.value).arrayValue ?? [r.value(pair.value)]).compactMap(\.stringValue)
                if names.isEmpty { r.error("expected 'requires.events' to be a list of field paths (such as type or payload.id)", at: pair.value) }
                out.events = names
                continue
            }
            guard let tables = r.mapping(pair.value, what: "'requires.entities'", allowed: nil) else { continue }
            for t in tables {
                let table = t.key, fields = t.value
                let names = (r.value(fields).arrayValue ?? [r.value(fields)]).compactMap(\.stringValue)
                if names.isEmpty { r.error("expected 'requires.entities.\(table)' to be a list of field names", at: fields) }
                out.entities.append((table, names))
            }
        }
        return out
    }

    func read(_ root: Node, into p: inout Profile) {
        let r = reader
        guard let pairs = r.mapping(root, what: "the profile", allowed: Self.topKeys) else { return }
        let k = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        if let n = k["profile"] { p.name = r.string(n, what: "'profile' (the profile's name)") ?? "" } else { r.error("missing key 'profile' (the profile's name)", at: root) }
        if let n = k["description"] { p.description = r.string(n, what: "'description'") }
        if let n = k["settings"] { p.settings = r.value(n) }
        if let n = k["requires"] { p.requires = requirements(n) }
        if let n = k["token"] { p.token = tokenSpec(n) }
        if let n = k["codec"] { p.codec = codec(n) }
        if let n = k["endpoints"] {
            let items: [Node] = if case .sequence(let s) = n { Array(s) } else { [n] }
            for item in items {
                if case .scalar = item, let path = r.string(item, what: "an endpoint path") {
                    p.endpoints.append(.init(path: path))
                } else if let e = r.mapping(item, what: "an endpoint", allowed: ["path", "name"]) {
                    let ek = Dictionary(e.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
                    guard let pn = ek["path"], let path = r.string(pn, what: "'path'") else { r.error("an endpoint needs a 'path'", at: item); continue }
                    if !path.hasPrefix("/") { r.error("an endpoint path starts with '/'", at: pn) }
                    p.endpoints.append(.init(path: path, name: ek["name"].flatMap { r.string($0, what: "'name'") }))
                }
            }
        } else {
            r.error("missing key 'endpoints' (where clients connect)", at: root)
        }
        if let n = k["auth"] { p.auth = auth(n) }
        if let n = k["topic"] { p.topic = r.template(n, names: ProfileNames.event) }
        if let n = k["envelope"] { p.envelope = r.template(n, names: ProfileNames.envelope) }
        if let n = k["deliver_if"] { p.deliverIf = r.template(n, names: ProfileNames.delivery) }
        if let n = k["subscriptions"] { p.subscriptions = subscriptions(n) }
        if let n = k["limits"] { p.limits = limits(n) }
        if let n = k["heartbeat"] { p.heartbeat = heartbeat(n) }
        if let n = k["activity"] { p.activity = activity(n) }
        if let n = k["on_connect"] {
            // A mapping of actions, or a list of rules that all run when they match.
            if case .sequence(let seq) = n {
                for item in seq { if let rule = rule(item, requireCondition: false) { p.onConnect.append(rule) } }
            } else if let a = actions(n, what: "'on_connect'", names: ProfileNames.message, allowed: Self.actionKeys) {
                p.onConnect = [Rule(when: nil, condition: nil, actions: a, location: r.location(n))]
            }
        }
        if let n = k["history"] { p.history = history(n) }
        if let n = k["backpressure"] { p.backpressure = backpressure(n) }
        if let n = k["diff"] { p.diff = Self.diffPreset(n, reader: r) }
        if let n = k["invalid"] { p.invalid = actions(n, what: "'invalid'", names: ProfileNames.message, allowed: Self.actionKeys) }
        if let n = k["on"] {
            guard case .sequence(let seq) = n else { r.error("expected 'on' to be a list of rules", at: n); return }
            for item in seq { if let rule = rule(item) { p.rules.append(rule) } }
        }
        // Issue 12: subprotocols and timers (see ProfileReader+Timers.swift).
        if let n = k["subprotocols"] { p.subprotocols = subprotocols(n) }
        if let n = k["timers"] { p.timers = timers(n) }
        if let n = k["compression"] { p.compression = compression(n) }
        if let n = k["client"] { p.client = clientRules(n) }
        checkTimerNames(p, root: root)
    }

    func codec(_ n: Node) -> CodecSpec {
        let r = reader
        if case .scalar = n {
            let name = r.string(n, what: "'codec'")
            if name == "raw" { return .raw }
            if name != "json" { r.error("unknown codec '\(name ?? "")'; expected json, raw or a protobuf mapping", at: n) }
            return .json
        }
        guard let pairs = r.mapping(n, what: "'codec'", allowed: ["protobuf"]), let pb = pairs.first?.value,
            let inner = r.mapping(pb, what: "'protobuf'", allowed: ["descriptor", "message"])
        else { return .json }
        let k = Dictionary(inner.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        guard let d = k["descriptor"].flatMap({ r.string($0, what: "'descriptor'") }), let m = k["message"].flatMap({ r.string($0, what: "'message'") }) else {
            r.error("a protobuf codec needs 'descriptor' (a descriptor set file) and 'message' (the frame's message type)", at: pb)
            return .json
        }
        let path = d.hasPrefix("/") ? d : (directory as NSString).appendingPathComponent(d)
        return .protobuf(descriptor: path, message: m)
    }

    func refusal(_ n: Node, default d: Refusal) -> Refusal {
        let r = reader
        guard let pairs = r.mapping(n, what: "a refusal", allowed: ["status", "body", "headers"]) else { return d }
        var out = d
        for (key, _, v) in pairs {
            switch key {
            case "status": out.status = r.integer(v, what: "'status'") ?? d.status
            case "headers": out.headers = responseHeaders(v, names: ProfileNames.access.union(["reason"]))
            default: out.body = r.template(v, names: ProfileNames.access.union(["reason"])) ?? d.body
            }
        }
        if !(400...599).contains(out.status) { r.error("a refusal status is an HTTP error status (400-599)", at: n) }
        return out
    }

    func auth(_ n: Node) -> AuthSpec {
        let r = reader
        var a = AuthSpec()
        guard let pairs = r.mapping(n, what: "'auth'", allowed: ["credentials", "identity", "allow", "unauthorized", "forbidden", "connection_limit"]) else { return a }
        for (key, _, v) in pairs {
            switch key {
            case "credentials":
                guard case .sequence(let seq) = v else { r.error("expected 'credentials' to be a list", at: v); continue }
                for item in seq {
                    guard let c = r.mapping(item, what: "a credential", allowed: ["cookie", "bearer", "query", "header", "kind", "lookup"]) else { continue }
                    var place: CredentialSource.Place?
                    var kind = CredentialSource.Kind.jwt
                    for (ck, _, cv) in c {
                        switch ck {
                        case "cookie": place = r.string(cv, what: "'cookie' (a cookie name)").map { .cookie($0) }
                        case "query": place = r.string(cv, what: "'query' (a query parameter)").map { .query($0) }
                        case "header": place = r.string(cv, what: "'header' (a header name)").map { .header($0) }
                        case "bearer": place = .bearer
                        case "lookup": if let l = credentialLookup(cv) { kind = .lookup(l) }
                        default:
                            if let s = r.string(cv, what: "'kind'"), s != "jwt" {
                                r.error("unknown credential kind '\(s)'; a credential is a JWT (kind: jwt, the default) or is looked up in a scenario entity table (lookup: {table: ...})", at: cv)
                            }
                        }
                    }
                    if let place { a.credentials.append(.init(place: place, kind: kind)) } else { r.error("a credential needs one of cookie, bearer, query or header", at: item) }
                }
            case "identity": a.identity = r.template(v, names: ProfileNames.identity)
            case "allow": a.allow = r.template(v, names: ProfileNames.access)
            case "unauthorized": a.unauthorized = refusal(v, default: a.unauthorized)
            case "forbidden": a.forbidden = refusal(v, default: a.forbidden)
            default:
                guard let c = r.mapping(v, what: "'connection_limit'", allowed: ["max", "per", "status", "body", "headers"]) else { continue }
                let ck = Dictionary(c.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
                guard let maxNode = ck["max"] else { r.error("'connection_limit' needs 'max'", at: v); continue }
                var maxSetting: NumberSetting?
                var max = 1
                if isTemplate(maxNode) {
                    maxSetting = numberSetting(maxNode, what: "'max'")
                } else {
                    guard let m = r.integer(maxNode, what: "'max'", minimum: 1) else { continue }
                    max = m
                }
                let per = ck["per"].flatMap { r.template($0, names: ProfileNames.access) } ?? .constant(.string("all"))
                var refusal = Refusal(status: 429, body: .constant(.string("Too many connections")))
                if let s = ck["status"] { refusal.status = r.integer(s, what: "'status'") ?? 429 }
                if let b = ck["body"] { refusal.body = r.template(b, names: ProfileNames.access) ?? refusal.body }
                if let h = ck["headers"] { refusal.headers = responseHeaders(h, names: ProfileNames.access) }
                a.connectionLimit = .init(max: max, per: per, refusal: refusal)
                a.connectionLimit?.maxSetting = maxSetting
            }
        }
        return a
    }

    func subscriptions(_ n: Node) -> SubscriptionSpec {
        let r = reader
        var s = SubscriptionSpec()
        guard let pairs = r.mapping(n, what: "'subscriptions'", allowed: ["max", "over_limit", "initial", "replace_initial", "filter", "deliver", "end"]) else { return s }
        for (key, _, v) in pairs {
            switch key {
            case "max": s.max = r.integer(v, what: "'max'", minimum: 0)
            case "over_limit": s.overLimit = actions(v, what: "'over_limit'", names: ProfileNames.message, allowed: Self.actionKeys)
            case "replace_initial": s.replaceInitial = r.bool(v, what: "'replace_initial'") ?? false
            case "filter": s.filter = r.template(v, names: ProfileNames.filter)
            case "deliver":
                switch r.string(v, what: "'deliver'") {
                case "each": s.deliverEach = true
                case "once": s.deliverEach = false
                case let other: r.error("unknown 'deliver' '\(other ?? "")'; expected once (one frame per connection) or each (one per subscription)", at: v)
                }
            case "end": s.end = subscriptionEnd(v)
            default:
                guard case .sequence(let seq) = v else { r.error("expected 'initial' to be a list of subscriptions", at: v); continue }
                for item in seq { if let sub = subscribe(item) { s.initial.append(sub) } }
            }
        }
        return s
    }

    func limits(_ n: Node) -> LimitsSpec {
        let r = reader
        var l = LimitsSpec()
        guard let pairs = r.mapping(n, what: "'limits'", allowed: ["inbound", "shared", "identity", "too_many_connections"]) else { return l }
        for (key, _, v) in pairs {
            switch key {
            case "inbound":
                l.inbound = rateLimit(v, what: "'inbound'", allowKey: false)?.limit
                continue
            case "identity":
                l.identity = r.template(v, names: ProfileNames.connectionIdentity)
                continue
            case "too_many_connections":
                l.tooManyConnections = r.template(v, names: ProfileNames.connectionRefusal)
                continue
            default: break
            }
            guard case .sequence(let seq) = v else { r.error("expected 'shared' to be a list of limits", at: v); continue }
            for item in seq {
                guard let (k, limit) = rateLimit(item, what: "a shared limit", allowKey: true) else { continue }
                guard let k else { r.error("a shared limit needs 'key' (what it counts per, e.g. \"{{ conn.tenant }}\")", at: item); continue }
                l.shared.append(.init(key: k, limit: limit))
            }
        }
        return l
    }

    func rateLimit(_ v: Node, what: String, allowKey: Bool) -> (key: Template?, limit: LimitsSpec.RateLimit)? {
        let r = reader
        guard let c = r.mapping(v, what: what, allowed: allowKey ? ["key", "max", "per", "then"] : ["max", "per", "then"]) else { return nil }
        let ck = Dictionary(c.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        guard let mn = ck["max"], let max = r.integer(mn, what: "'max'", minimum: 1), let pn = ck["per"], let per = r.duration(pn, what: "'per'", allowZero: false) else {
            r.error("\(what) needs 'max' (messages) and 'per' (a duration)", at: v)
            return nil
        }
        let then = ck["then"].flatMap { actions($0, what: "'then'", names: ProfileNames.message, allowed: Self.actionKeys) } ?? Actions()
        let key = ck["key"].flatMap { r.template($0, names: ProfileNames.message) }
        return (key, .init(max: max, per: per, actions: then))
    }

    func activity(_ n: Node) -> ActivitySpec? {
        let r = reader
        guard let pairs = r.mapping(n, what: "'activity'", allowed: ["path", "size", "filter", "respond"]) else { return nil }
        let k = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        guard let pn = k["path"], let path = r.string(pn, what: "'path'"), let rn = k["respond"],
            let respond = r.template(rn, names: ["items", "conn", "request", "settings", "entities"])
        else {
            r.error("'activity' needs 'path' and 'respond'", at: n)
            return nil
        }
        let size = k["size"].flatMap { r.integer($0, what: "'size'", minimum: 1) } ?? 10000
        let filter = k["filter"].flatMap { r.template($0, names: ["item", "conn", "request", "settings", "entities"]) }
        return ActivitySpec(path: path, size: size, filter: filter, respond: respond)
    }

    func heartbeat(_ n: Node) -> HeartbeatSpec {
        let r = reader
        var h = HeartbeatSpec()
        guard let pairs = r.mapping(n, what: "'heartbeat'", allowed: ["client_timeout", "client_message", "close", "server"]) else { return h }
        for (key, _, v) in pairs {
            switch key {
            case "client_timeout":
                if isTemplate(v) {
                    h.clientTimeoutSetting = numberSetting(v, what: "'client_timeout'")
                    h.clientTimeout = 0
                } else {
                    h.clientTimeout = r.duration(v, what: "'client_timeout'", allowZero: false)
                }
            case "server": h.server = serverHeartbeat(v)
            case "client_message": h.clientPattern = Pattern(r.value(v))
            default: if let c = close(v) { h.timeoutClose = c }
            }
        }
        return h
    }

    /// Whether a node is a scalar holding a template (`{{ ... }}`).
    func isTemplate(_ n: Node) -> Bool {
        if case .scalar(let s) = n { return s.string.contains("{{") }
        return false
    }

    /// A duration (or count) that may be a template over settings.
    func numberSetting(_ n: Node, what: String) -> NumberSetting? {
        if isTemplate(n) { return reader.template(n, names: ProfileNames.settingsOnly).map { .template($0) } }
        return reader.duration(n, what: what, allowZero: false).map { .fixed($0) }
    }

    func serverHeartbeat(_ n: Node) -> ServerHeartbeatSpec? {
        let r = reader
        guard let pairs = r.mapping(n, what: "'server'", allowed: ["every", "message", "grace", "close", "key"]) else { return nil }
        let k = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        guard let e = k["every"].flatMap({ numberSetting($0, what: "'every'") }),
            let m = k["message"].flatMap({ r.template($0, names: ProfileNames.heartbeatMessage) })
        else {
            r.error("a server heartbeat needs 'every' (a duration) and 'message' (a template; 'key' names the id its ack gives)", at: n)
            return nil
        }
        var h = ServerHeartbeatSpec(every: e, message: m, grace: k["grace"].flatMap { numberSetting($0, what: "'grace'") } ?? e)
        if let c = k["close"].flatMap({ close($0) }) { h.close = c }
        h.key = k["key"].flatMap { r.template($0, names: ProfileNames.heartbeatKey) }
        return h
    }

    func history(_ n: Node) -> HistorySpec? {
        let r = reader
        guard let pairs = r.mapping(n, what: "'history'", allowed: ["key", "item", "owner", "size", "initial"]) else { return nil }
        let k = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        guard let key = k["key"].flatMap({ r.template($0, names: ProfileNames.event) }),
            let owner = k["owner"].flatMap({ r.template($0, names: ProfileNames.historyOwner) }),
            let size = k["size"].flatMap({ r.integer($0, what: "'size'", minimum: 1) })
        else {
            r.error("'history' needs 'key' (an event's key), 'owner' (a connection's key) and 'size'", at: n)
            return nil
        }
        if size > 100_000 { r.error("'size' is at most 100000", at: n) }
        return HistorySpec(
            key: key, item: k["item"].flatMap { r.template($0, names: ProfileNames.event) }, owner: owner, size: min(size, 100_000),
            initial: k["initial"].flatMap { r.template($0, names: ProfileNames.settingsOnly) })
    }

    func backpressure(_ n: Node) -> BackpressureSpec? {
        let r = reader
        guard let pairs = r.mapping(n, what: "'backpressure'", allowed: ["capacity", "warning"]) else { return nil }
        let k = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        guard let cn = k["capacity"] else { r.error("'backpressure' needs 'capacity' (messages per subscription)", at: n); return nil }
        let capacity: NumberSetting? = isTemplate(cn) ? numberSetting(cn, what: "'capacity'") : r.integer(cn, what: "'capacity'", minimum: 1).map { .fixed(Double($0)) }
        guard let capacity else { return nil }
        return BackpressureSpec(capacity: capacity, warning: k["warning"].flatMap { r.template($0, names: ProfileNames.warning) })
    }

    static let actionKeys = [
        "reply", "subscribe", "unsubscribe", "set", "close", "each", "ack", "clear_history",
        "replies", "start_timer", "reset_timer", "cancel_timer",
    ]
    static let ruleKeys = ["when", "if", "otherwise"] + actionKeys

    func rule(_ n: Node, requireCondition: Bool = true) -> Rule? {
        let r = reader
        guard let pairs = r.mapping(n, what: "a rule", allowed: Self.ruleKeys) else { return nil }
        let k = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        if requireCondition && k["when"] == nil && k["if"] == nil && k["otherwise"] == nil {
            r.error("a rule needs 'when' (a pattern), 'if' (a condition) or 'otherwise: true'", at: n)
        }
        let when = k["when"].map { Pattern(r.value($0)) }
        let condition = k["if"].flatMap { r.template($0, names: ProfileNames.message) }
        guard let a = actions(n, what: "a rule", names: ProfileNames.message, allowed: Self.ruleKeys) else { return nil }
        return Rule(when: when, condition: condition, actions: a, location: r.location(n))
    }

    func actions(_ n: Node, what: String, names: Set<String>, allowed: [String]) -> Actions? {
        let r = reader
        guard let pairs = r.mapping(n, what: what, allowed: allowed) else { return nil }
        var a = Actions()
        for (key, _, v) in pairs {
            switch key {
            case "reply": if let t = r.template(v, names: names) { a.reply.append(t) }
            case "subscribe": a.subscribe = subscribe(v)
            case "unsubscribe":
                guard let c = r.mapping(v, what: "'unsubscribe'", allowed: ["topics", "key"]) else { continue }
                var u = UnsubscribeAction()
                for (ck, _, cv) in c {
                    if ck == "topics" { u.topics = r.template(cv, names: names) } else { u.key = r.template(cv, names: names) }
                }
                a.unsubscribe = u
            case "set": a.set = r.template(v, names: names)
            case "close": a.close = close(v)
            case "ack": a.ack = r.template(v, names: names)
            case "clear_history": a.clearHistory = r.bool(v, what: "'clear_history'") ?? false
            case "replies": a.replies = r.template(v, names: names)
            case "start_timer": a.startTimers = r.strings(v, what: "'start_timer' (timer names)") ?? []
            case "reset_timer": a.resetTimers = r.strings(v, what: "'reset_timer' (timer names)") ?? []
            case "cancel_timer": a.cancelTimers = r.strings(v, what: "'cancel_timer' (timer names)") ?? []
            case "each":
                guard let c = r.mapping(v, what: "'each'", allowed: ["items", "message"]) else { continue }
                let ck = Dictionary(c.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
                guard let i = ck["items"].flatMap({ r.template($0, names: names) }), let m = ck["message"].flatMap({ r.template($0, names: names) }) else {
                    r.error("'each' needs 'items' (a list) and 'message' (a template reading item and index)", at: v)
                    continue
                }
                a.each = EachAction(items: i, message: m)
            default: break
            }
        }
        return a
    }

    func subscribe(_ n: Node) -> SubscribeAction? {
        let r = reader
        guard let c = r.mapping(n, what: "'subscribe'", allowed: ["topics", "key", "params"]) else { return nil }
        let k = Dictionary(c.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        guard let tn = k["topics"], let topics = r.template(tn, names: ProfileNames.message) else {
            r.error("'subscribe' needs 'topics'", at: n)
            return nil
        }
        return SubscribeAction(
            topics: topics, key: k["key"].flatMap { r.template($0, names: ProfileNames.message) },
            params: k["params"].flatMap { r.template($0, names: ProfileNames.message) })
    }

    func close(_ n: Node) -> CloseAction? {
        let r = reader
        guard let c = r.mapping(n, what: "'close'", allowed: ["code", "reason"]) else { return nil }
        var out = CloseAction(code: 1000, reason: .constant(.string("")))
        for (key, _, v) in c {
            if key == "code" {
                if let code = r.integer(v, what: "'code'") {
                    if code == 1000 || (1001...1014).contains(code) || (3000...4999).contains(code) { out.code = code } else { r.error("'\(code)' is not a close code a server may send (1000-1014, 3000-4999)", at: v) }
                }
            } else {
                out.reason = r.template(v, names: ProfileNames.message) ?? out.reason
            }
        }
        return out
    }
}
