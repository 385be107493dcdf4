public import TapedeckCore
public import TapedeckProtocol

/// Judges clients against a profile's client rules (`client:`), from a stream of observations.
///
/// A pure state machine: feed it ``Observation``s in time order (a little disorder between
/// connections is tolerated) and ask for ``results(at:)`` whenever a report is due. It keeps
/// one track per client identity across that client's connections, and never reads a clock:
/// time is what the observations say, so a test can replay an hour of a client's life without sleeping.
///
/// What counts as a *drop* (after which `reconnect` applies): a close the server started (unless
/// its code is in `stop_on`), a connection that ended without a close frame, or a refused upgrade
/// (unless its status is in `stop_on`). A client that closes first meant to leave: nothing is expected of it.
/// Drops and reconnects pair up per endpoint path, so a client with two sockets (a stream and its
/// notifications) is judged per socket.
public struct ConformanceChecker: Sendable {
    public let profile: String
    public let rules: ClientRules
    /// The profile's settings, as templates of the rules read them.
    public let settings: Value
    /// `send_cookie`, its name resolved against the settings.
    let cookieName: String?
    /// Whether the source sees plain HTTP requests; when not (a recording), `after_reconnect.http_before`
    /// is never judged.
    public let observesHTTP: Bool
    /// The latest observation time seen.
    public private(set) var now: Double = 0

    private var clients: [String: ClientTrack] = [:]
    private var clientOrder: [String] = []
    private var connections: [Int: ConnectionTrack] = [:]

    public init(profile: String, rules: ClientRules, settings: Value = .emptyObject, observesHTTP: Bool = true) {
        self.observesHTTP = observesHTTP
        self.profile = profile
        self.rules = rules
        self.settings = settings
        cookieName = rules.sendCookie.map { CredentialSource.Place.cookie($0).resolved(settings: settings) }.flatMap {
            if case .cookie(let name) = $0 { name } else { nil }
        }
    }

    // MARK: State

    struct Retry {
        /// When the drop (or the first refusal) happened.
        var since: Double
        /// When the last failure (the drop, or a refused attempt) happened: the next delay runs from it.
        var lastFailure: Double
        /// Attempts made since the drop.
        var attempt = 0
        /// The subscriptions the client should open again.
        var subscriptions: [String] = []
        var cause: String
        var overdueReported = false
    }

    struct ClientTrack {
        var tallies: [ConformanceRule: RuleTally] = [:]
        var attempts = 0
        /// The drop each endpoint path is recovering from.
        var retries: [String: Retry] = [:]
        /// Set by a `stop_on` refusal or close; further attempts break the rule.
        var stopped: (time: Double, what: String, retried: Bool)?
        var rateTimes: [String: [Double]] = [:]
        var httpRequests: [(time: Double, path: String)] = []

        mutating func pass(_ rule: ConformanceRule, _ e: Evidence) { tallies[rule, default: RuleTally()].pass(e) }
        mutating func fail(_ rule: ConformanceRule, _ e: Evidence) { tallies[rule, default: RuleTally()].fail(e) }
    }

    struct PendingAck {
        var heartbeat: Value
        var expected: Value
        var time: Double
        var deadline: Double
    }

    struct ConnectionTrack {
        var client: String
        var path: String
        var opened: Double
        /// The last ping, or the open when none came yet.
        var pingReference: Double
        var pinged = false
        var pingOverdue = false
        var acks: [PendingAck] = []
        var subscriptions: [String] = []
        /// After a reconnect: the subscriptions not opened again yet, and by when they must be.
        var resubscribe: (keys: [String], all: [String], deadline: Double)?
        /// After a reconnect: the HTTP request due between `since` and `deadline`.
        var http: (since: Double, deadline: Double, reconnected: Double)?
    }

    // MARK: Observing

    /// Takes one observation into account.
    public mutating func observe(_ o: Observation) {
        let t = o.time
        now = Swift.max(now, t)
        judgeDeadlines(upTo: t)
        switch o.event {
        case .upgrade(let u): upgrade(u, at: t)
        case .clientMessage(let c, let size, let value): clientMessage(c, size: size, value: value, at: t)
        case .serverMessage(let c, let value): serverMessage(c, value: value, at: t)
        case .closed(let c, let by, let code): closed(c, by: by, code: code, at: t)
        case .http(let client, let path, _):
            update(client) { c in
                c.httpRequests.append((t, path))
                // Only requests since a recent drop matter: keep the latest ones.
                if c.httpRequests.count > Self.keptRequests { c.httpRequests.removeFirst(c.httpRequests.count - Self.keptRequests) }
            }
        case .tick: break
        }
    }

    /// Every client's results as of `time`: deadlines before it are judged, and `stop_on` holds
    /// for a client that did not try again.
    public func results(at time: Double) -> [ClientResult] {
        var copy = self
        copy.judgeDeadlines(upTo: Swift.max(time, now))
        let stated = ConformanceRule.stated(in: rules)
        return copy.clientOrder.map { name in
            var track = copy.clients[name]!
            if let s = track.stopped, !s.retried {
                track.pass(.stopOn, Evidence(time: s.time, message: "made no further attempt after \(s.what)"))
            }
            let results = stated.map { rule in
                var statement = rule == .sendCookie ? "send cookie '\(cookieName ?? "")' with every upgrade" : rule.statement(rules) ?? ""
                if rule == .httpBefore && !observesHTTP { statement += " (not observable here: the source holds no HTTP requests)" }
                return (track.tallies[rule] ?? RuleTally()).result(rule: rule.rawValue, statement: statement)
            }
            return ClientResult(profile: profile, client: name, attempts: track.attempts, rules: results)
        }
    }

    private mutating func update(_ client: String, _ body: (inout ClientTrack) -> Void) {
        if clients[client] == nil {
            clientOrder.append(client)
            clients[client] = ClientTrack()
        }
        body(&clients[client]!)
    }

    // MARK: Events

    private mutating func upgrade(_ u: ObservedUpgrade, at t: Double) {
        let rules = self.rules
        let cookieName = self.cookieName
        var reconnected: Retry?
        update(u.client) { c in
            c.attempts += 1
            if let cookie = cookieName {
                let names = u.cookieNames
                if names.contains(cookie) {
                    c.pass(.sendCookie, Evidence(time: t, connection: u.connection, message: "upgrade to \(u.path) carried cookie '\(cookie)'"))
                } else {
                    let sent = names.isEmpty ? "no cookie" : "cookies " + names.map { "'\($0)'" }.joined(separator: ", ")
                    c.fail(.sendCookie, Evidence(time: t, connection: u.connection, message: "upgrade to \(u.path) without cookie '\(cookie)' (sent \(sent))"))
                }
            }
            if let s = c.stopped {
                c.fail(
                    .stopOn,
                    Evidence(
                        time: t, connection: u.connection,
                        message: "tried again \(Self.seconds(t - s.time)) after \(s.what) at \(Self.at(s.time)) (answered \(u.status))"))
                c.stopped?.retried = true
                if u.status == 101 { c.stopped = nil }
            }
            if var r = c.retries[u.path] {
                let n = r.attempt + 1
                if let rule = rules.reconnect {
                    let delay = t - r.lastFailure
                    let from = r.attempt == 0 ? r.cause : "the refusal"
                    if let max = rule.attempts, n > max {
                        c.fail(.reconnect, Evidence(time: t, connection: u.connection, message: "attempt \(n) after \(r.cause) at \(Self.at(r.since)): at most \(max) attempts"))
                    } else {
                        let window = rule.window(attempt: n)
                        let text = "attempt \(n) came \(Self.seconds(delay)) after \(from) at \(Self.at(r.lastFailure)) (expected \(Self.seconds(rule.delay(attempt: n))), accepted \(Self.seconds(window.lowerBound))–\(Self.seconds(window.upperBound)))"
                        if window.contains(delay) {
                            c.pass(.reconnect, Evidence(time: t, connection: u.connection, message: text))
                        } else {
                            c.fail(.reconnect, Evidence(time: t, connection: u.connection, message: text))
                        }
                    }
                }
                r.attempt = n
                r.overdueReported = false
                if u.status == 101 {
                    reconnected = r
                    c.retries[u.path] = nil
                } else {
                    r.lastFailure = t
                    c.retries[u.path] = r
                }
            }
            if u.status != 101 {
                if rules.stopOn.contains(u.status) {
                    c.stopped = (t, "refusal \(u.status)", false)
                    c.retries = [:]
                } else if c.retries[u.path] == nil {
                    c.retries[u.path] = Retry(since: t, lastFailure: t, cause: "refusal \(u.status)")
                }
            }
        }
        guard u.status == 101, let id = u.connection else { return }
        var conn = ConnectionTrack(client: u.client, path: u.path, opened: t, pingReference: t)
        if let r = reconnected, let after = rules.afterReconnect {
            if after.resubscribe != nil, !r.subscriptions.isEmpty {
                conn.resubscribe = (r.subscriptions, r.subscriptions, t + after.within)
            }
            if after.httpBefore != nil && observesHTTP { conn.http = (r.since, t + after.within, t) }
        }
        connections[id] = conn
    }

    private mutating func clientMessage(_ id: Int, size: Int, value: Value?, at t: Double) {
        guard var conn = connections[id] else { return }
        let rules = self.rules
        let frame = value?.jsonString
        var ctx = EvaluationContext(variables: ["msg": value ?? .null, "settings": settings], now: t)
        update(conn.client) { c in
            if let max = rules.maxMessageSize {
                if size > max {
                    c.fail(.maxMessageSize, Evidence(time: t, connection: id, message: "sent a message of \(size) bytes (at most \(max))", frame: frame))
                } else {
                    c.pass(.maxMessageSize, Evidence(time: t, connection: id, message: "sent a message of \(size) bytes"))
                }
            }
            if let rate = rules.maxRate, rate.message?.matches(value) ?? true {
                let key = (try? rate.per.evaluate(in: &ctx))?.plainText ?? "?"
                var times = (c.rateTimes[key] ?? []).filter { $0 > t - rate.window }
                times.append(t)
                c.rateTimes[key] = times
                if times.count > rate.count {
                    c.fail(
                        .maxRate,
                        Evidence(
                            time: t, connection: id,
                            message: "\(times.count) messages of '\(key)' within \(Self.seconds(rate.window)) (at \(times.map(Self.at).joined(separator: ", "))); at most \(rate.count)",
                            frame: frame))
                } else {
                    c.pass(.maxRate, Evidence(time: t, connection: id, message: "message of '\(key)' within the rate"))
                }
            }
            if let ping = rules.ping, ping.message.matches(value) {
                let gap = t - conn.pingReference
                let since = conn.pinged ? "the previous ping at \(Self.at(conn.pingReference))" : "the connection opened at \(Self.at(conn.opened))"
                let text = "ping \(Self.seconds(gap)) after \(since)"
                if gap > ping.every + ping.tolerance {
                    if !conn.pingOverdue {
                        c.fail(.ping, Evidence(time: t, connection: id, message: text + " (expected every \(Self.seconds(ping.every)) ± \(Self.seconds(ping.tolerance)))", frame: frame))
                    }
                } else if conn.pinged && gap < ping.every - ping.tolerance {
                    c.fail(.ping, Evidence(time: t, connection: id, message: text + " — too soon (expected every \(Self.seconds(ping.every)) ± \(Self.seconds(ping.tolerance)))", frame: frame))
                } else {
                    c.pass(.ping, Evidence(time: t, connection: id, message: text, frame: frame))
                }
                conn.pingReference = t
                conn.pinged = true
                conn.pingOverdue = false
            }
            if let i = conn.acks.firstIndex(where: { Pattern($0.expected).matches(value) }) {
                let ack = conn.acks.remove(at: i)
                c.pass(
                    .heartbeatAck,
                    Evidence(time: t, connection: id, message: "acknowledged the heartbeat of \(Self.at(ack.time)) after \(Self.seconds(t - ack.time))", frame: frame))
            }
            if let reading = rules.afterReconnect?.resubscribe {
                if reading.subscribe.message.matches(value) {
                    let keys = Self.keys(reading.subscribe.key, &ctx)
                    for k in keys where !conn.subscriptions.contains(k) { conn.subscriptions.append(k) }
                    if var pending = conn.resubscribe {
                        pending.keys.removeAll { keys.contains($0) }
                        if pending.keys.isEmpty {
                            c.pass(
                                .resubscribe,
                                Evidence(
                                    time: t, connection: id,
                                    message: "re-subscribed to \(pending.all.joined(separator: ", ")) \(Self.seconds(t - conn.opened)) after reconnecting",
                                    frame: frame))
                            conn.resubscribe = nil
                        } else {
                            conn.resubscribe = pending
                        }
                    }
                } else if let un = reading.unsubscribe, un.message.matches(value) {
                    let keys = Self.keys(un.key, &ctx)
                    conn.subscriptions.removeAll { keys.contains($0) }
                    conn.resubscribe?.keys.removeAll { keys.contains($0) }
                }
            }
        }
        connections[id] = conn
    }

    private mutating func serverMessage(_ id: Int, value: Value?, at t: Double) {
        guard let rule = rules.heartbeatAck, let value, rule.server.matches(value), connections[id] != nil else { return }
        var ctx = EvaluationContext(variables: ["heartbeat": value, "settings": settings], now: t)
        guard let expected = try? rule.reply.evaluate(in: &ctx) else { return }
        connections[id]!.acks.append(PendingAck(heartbeat: value, expected: expected, time: t, deadline: t + rule.within))
    }

    private mutating func closed(_ id: Int, by: CloseInitiator, code: Int?, at t: Double) {
        guard let conn = connections.removeValue(forKey: id) else { return }
        let rules = self.rules
        update(conn.client) { c in
            if by == .server, let code, rules.stopOn.contains(code) {
                c.stopped = (t, "close \(code)", false)
                c.retries = [:]
                return
            }
            guard by != .client else {
                c.retries[conn.path] = nil
                return
            }
            var wanted = conn.subscriptions
            for k in conn.resubscribe?.keys ?? [] where !wanted.contains(k) { wanted.append(k) }
            let cause = by == .server ? "the server's close \(code.map(String.init) ?? "")".trimming(" ") : "the lost connection"
            c.retries[conn.path] = Retry(since: t, lastFailure: t, subscriptions: wanted, cause: cause)
        }
    }

    // MARK: Deadlines

    private mutating func judgeDeadlines(upTo t: Double) {
        let rules = self.rules
        for id in connections.keys.sorted() {
            var conn = connections[id]!
            update(conn.client) { c in
                if let ping = rules.ping, !conn.pingOverdue {
                    let limit = conn.pingReference + ping.every + ping.tolerance
                    if t > limit {
                        let since = conn.pinged ? "the ping at \(Self.at(conn.pingReference))" : "the connection opened at \(Self.at(conn.opened))"
                        c.fail(.ping, Evidence(time: limit, connection: id, message: "no ping within \(Self.seconds(ping.every + ping.tolerance)) of \(since)"))
                        conn.pingOverdue = true
                    }
                }
                conn.acks.removeAll { ack in
                    guard t > ack.deadline else { return false }
                    c.fail(
                        .heartbeatAck,
                        Evidence(
                            time: ack.deadline, connection: id,
                            message: "heartbeat of \(Self.at(ack.time)) not answered with \(ack.expected.jsonString) within \(Self.seconds(ack.deadline - ack.time))",
                            frame: ack.heartbeat.jsonString))
                    return true
                }
                if let pending = conn.resubscribe, t > pending.deadline {
                    c.fail(
                        .resubscribe,
                        Evidence(
                            time: pending.deadline, connection: id,
                            message: "reconnected at \(Self.at(conn.opened)) but did not re-subscribe to \(pending.keys.joined(separator: ", ")) within \(Self.seconds(pending.deadline - conn.opened))"))
                    conn.resubscribe = nil
                }
                if let http = conn.http, t > http.deadline, let path = rules.afterReconnect?.httpBefore {
                    if let hit = c.httpRequests.first(where: { $0.time >= http.since && $0.time <= http.deadline && Self.path($0.path, is: path) }) {
                        c.pass(.httpBefore, Evidence(time: hit.time, connection: id, message: "requested \(hit.path) after the drop at \(Self.at(http.since))"))
                    } else {
                        c.fail(
                            .httpBefore,
                            Evidence(
                                time: http.deadline, connection: id,
                                message: "reconnected at \(Self.at(http.reconnected)) but did not request \(path) within \(Self.seconds(http.deadline - http.reconnected))"))
                    }
                    conn.http = nil
                }
            }
            connections[id] = conn
        }
        guard let rule = rules.reconnect else { return }
        for name in clientOrder {
            for (path, r) in (clients[name]?.retries ?? [:]).sorted(by: { $0.key < $1.key }) where !r.overdueReported {
                let n = r.attempt + 1
                if let max = rule.attempts, n > max { continue }
                let latest = r.lastFailure + rule.window(attempt: n).upperBound
                if t > latest {
                    clients[name]!.retries[path]?.overdueReported = true
                    clients[name]!.fail(
                        .reconnect,
                        Evidence(
                            time: latest,
                            message: "no attempt \(n) within \(Self.seconds(latest - r.lastFailure)) of \(r.attempt == 0 ? r.cause : "the refusal") at \(Self.at(r.lastFailure)) (expected after \(Self.seconds(rule.delay(attempt: n))))"))
                }
            }
        }
    }

    // MARK: Helpers

    /// HTTP requests remembered per client (for `after_reconnect.http_before`).
    static let keptRequests = 64

    static func keys(_ template: Template, _ ctx: inout EvaluationContext) -> [String] {
        guard let v = try? template.evaluate(in: &ctx), !v.isNull else { return [] }
        if let items = v.arrayValue { return items.filter { !$0.isNull }.map(\.plainText) }
        return [v.plainText]
    }

    static func path(_ requested: String, is path: String) -> Bool {
        let p = requested.split(separator: "?", maxSplits: 1).first.map(String.init) ?? requested
        return p == path
    }

    static func seconds(_ s: Double) -> String {
        let r = (s * 10).rounded() / 10
        return r == r.rounded() ? "\(Int(r))s" : "\(r)s"
    }

    static func at(_ s: Double) -> String { "t=" + seconds(s) }
}
