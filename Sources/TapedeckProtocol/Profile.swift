public import TapedeckCompression
public import TapedeckCore
public import TapedeckScenario
public import OrderedCollections

/// A protocol profile: a declarative description of one WebSocket protocol, read by a generic engine.
///
/// Load one with `ProfileLoader`. The built-in profiles are resources of this module.
public struct Profile: Sendable {
    /// The profile's name, e.g. `ops-control-center`.
    public var name: String
    public var description: String?
    /// Where clients connect.
    public var endpoints: [Endpoint]
    /// How a connection proves who it is, and who may connect.
    public var auth: AuthSpec
    /// How frames are encoded.
    public var codec: CodecSpec
    /// How a scenario event becomes the frame sent to clients (names: `event`, `topic`, `settings`,
    /// `entities`; and `sub`, `conn`, which make it rendered per subscription, see ``rendersPerSubscription``).
    public var envelope: Template?
    /// The topic an event is published on (names: `event`).
    public var topic: Template?
    /// Whether a connection may see an event at all: authorization (names: `event`, `topic`, `conn`).
    public var deliverIf: Template?
    /// Subscriptions: limits, defaults and the per-subscription filter.
    public var subscriptions: SubscriptionSpec
    /// Inbound message limits.
    public var limits: LimitsSpec
    /// Heartbeat policy.
    public var heartbeat: HeartbeatSpec
    /// What to do when a connection opens: rules tried in order, and **every** rule whose `when`/`if`
    /// holds runs (names: `conn`, `settings`, `entities`, `history`).
    public var onConnect: [Rule] = []
    /// A bounded store of past events per key (per user, per tenant), read by `on_connect` as `history`.
    public var history: HistorySpec?
    /// Per-subscription buffering for slow readers, with a warning when events are dropped.
    public var backpressure: BackpressureSpec?
    /// Rules for client messages, tried in order; the first that matches runs.
    public var rules: [Rule]
    /// What to do with a frame that cannot be decoded (names: `error`, `raw`, `conn`).
    public var invalid: Actions?
    /// An HTTP endpoint listing recent events, for clients that reconnect and reconcile.
    public var activity: ActivitySpec?
    /// Settings with their defaults; a scenario's `settings:` overrides them.
    public var settings: Value
    /// What comparing two sessions ignores and how messages are named (`tapedeck diff`, reactive replay).
    public var diff = DiffPreset()
    /// What a scenario must give for this profile to work as meant (`requires:`), checked by
    /// `tapedeck validate` and before serving: `entities: {jobs: [tenant_id]}` means every entry
    /// of `entities.jobs` has a `tenant_id`.
    public var requires = Requirements()
    /// The claims of the development tokens `tapedeck token` mints for this profile (`token:`).
    public var token = TokenSpec()
    /// The file it came from.
    public var source: String

    // MARK: Subprotocols and timers (issue 12)

    /// The WebSocket subprotocols this profile speaks (`Sec-WebSocket-Protocol`); `nil`: none is
    /// selected, whatever the client offers.
    public var subprotocols: SubprotocolSpec?
    /// `compression: { permessage_deflate: ... }`: what the server agrees when a client offers
    /// permessage-deflate (RFC 7692); `nil`: connections are never compressed.
    public var compression: DeflateSettings?
    /// Named timers that rules and `on_connect` start, reset and cancel, and what each does when it fires.
    public var timers: [TimerSpec] = []
    /// `client:` what the spec asks of clients, for conformance checks; `nil`: no rule stated.
    public var client: ClientRules?
    /// Whether an event is enveloped once per subscription on each connection (the envelope reads
    /// `sub` or `conn`, `subscriptions.deliver` is `each`, or `subscriptions.end` is set), rather
    /// than once per profile for every connection.
    public var rendersPerSubscription: Bool {
        if subscriptions.deliverEach || subscriptions.end != nil { return true }
        guard let names = envelope?.freeNames else { return false }
        return names.contains("sub") || names.contains("conn")
    }

    public init(name: String, source: String) {
        self.name = name
        self.source = source
        self.endpoints = []
        self.auth = AuthSpec()
        self.codec = .json
        self.subscriptions = SubscriptionSpec()
        self.limits = LimitsSpec()
        self.heartbeat = HeartbeatSpec()
        self.rules = []
        self.settings = .emptyObject
    }

    /// A WebSocket endpoint.
    public struct Endpoint: Sendable, Hashable {
        /// The request path, e.g. `/api/ws`.
        public var path: String
        /// A name rules can test as `conn.endpoint`; defaults to the path.
        public var name: String
        public init(path: String, name: String? = nil) {
            self.path = path
            self.name = name ?? path
        }
    }
}

/// How frames are encoded.
public enum CodecSpec: Sendable, Hashable {
    /// JSON text frames.
    case json
    /// Frames as they are, for echo and conformance profiles: a text frame is a string value, a
    /// binary frame `{"binary": "<base64>"}`. Sending a string writes a text frame with exactly that
    /// text, `{"binary": "<base64>"}` a binary frame with those bytes, anything else JSON text.
    case raw
    /// Binary protobuf frames of `message`, described by a descriptor set file.
    case protobuf(descriptor: String, message: String)
}

/// Where a credential is found and what kind it is.
public struct CredentialSource: Sendable, Hashable {
    public enum Place: Sendable, Hashable {
        case cookie(String)
        case bearer
        case query(String)
        case header(String)
    }

    public enum Kind: Sendable, Hashable {
        /// A JWT signed with the simulator's secret (HS256). Its claims become `claims`.
        case jwt
        /// An opaque value looked up in a scenario entity table, as the profile's `lookup:` says.
        case lookup(CredentialLookup)
    }

    public var place: Place
    public var kind: Kind

    public init(place: Place, kind: Kind) {
        self.place = place
        self.kind = kind
    }
}

/// An HTTP answer that refuses an upgrade.
public struct Refusal: Sendable, Hashable {
    public var status: Int
    public var body: Template
    /// More response headers, by name (`WWW-Authenticate: Bearer` on a 401); the values are
    /// templates over the same names as `body`.
    public var headers: OrderedDictionary<String, Template> = [:]
    public init(status: Int, body: Template, headers: OrderedDictionary<String, Template> = [:]) {
        self.status = status
        self.body = body
        self.headers = headers
    }
}

/// Authentication and authorization at upgrade time.
public struct AuthSpec: Sendable {
    /// Where to look for credentials, in order; the first one present is used.
    public var credentials: [CredentialSource] = []
    /// Claims -> connection identity (names: `claims`, `request`). The result becomes `conn`.
    public var identity: Template?
    /// Whether an authenticated client may connect; false gives `forbidden` (names: `claims`, `conn`, `request`).
    public var allow: Template?
    /// The answer to missing or bad credentials (default 401).
    public var unauthorized = Refusal(status: 401, body: .constant(.string("Unauthorized")))
    /// The answer to an authenticated but forbidden request (default 403).
    public var forbidden = Refusal(status: 403, body: .constant(.string("Forbidden")))
    /// Maximum concurrent connections per value of `per` (e.g. per tenant); beyond it, `tooMany`.
    public var connectionLimit: ConnectionLimit?

    public init() {}

    public struct ConnectionLimit: Sendable {
        public var max: Int
        /// `max` as a template over `settings`, when written as one; wins over `max`.
        public var maxSetting: NumberSetting?
        public var per: Template
        public var refusal: Refusal
        public init(max: Int, per: Template, refusal: Refusal) {
            self.max = max
            self.per = per
            self.refusal = refusal
        }
    }
}

/// Subscription behaviour.
public struct SubscriptionSpec: Sendable {
    /// Maximum concurrent subscriptions per connection.
    public var max: Int?
    /// Sent instead of subscribing beyond `max` (names: `msg`, `conn`, `subscriptions`).
    public var overLimit: Actions?
    /// Subscriptions a connection has before it asks for any.
    public var initial: [SubscribeAction] = []
    /// Whether a connection's first explicit subscribe replaces the initial subscriptions.
    public var replaceInitial = false
    /// Whether an event passes one subscription (names: `event`, `topic`, `sub`, `conn`). Default: true.
    public var filter: Template?
    /// `deliver: each`: an event that passes several subscriptions of one connection is sent once
    /// per subscription (each frame enveloped with its own `sub`); by default it is sent once.
    public var deliverEach = false
    /// Ends a subscription from the server's side: an event for which `if` holds is sent to that
    /// subscription as `message` instead of the envelope, and the subscription is removed.
    public var end: SubscriptionEnd?
    public init() {}
}

/// How the server ends a subscription (`subscriptions.end`); names: `event`, `topic`, `sub`, `conn`,
/// `settings`, `entities`.
public struct SubscriptionEnd: Sendable {
    /// Whether this event ends the subscription it is delivered to.
    public var condition: Template
    /// The message sent instead of the envelope (e.g. `{id: "{{ sub.key }}", type: complete}`); none when `nil`.
    public var message: Template?
    public init(condition: Template, message: Template?) {
        self.condition = condition
        self.message = message
    }
}

/// Inbound limits.
public struct LimitsSpec: Sendable {
    /// At most `max` client messages in any window of `per` seconds, per connection.
    public var inbound: RateLimit?
    /// Limits shared by every connection with the same key (per user, per tenant, ...).
    public var shared: [SharedRateLimit] = []
    /// Who a connection is, for the server's per-identity connection cap (`serve
    /// --max-connections-per-identity`), e.g. `"{{ conn.tenant }}"` (names: `conn`, `claims`,
    /// `request`, `settings`, `entities`). Without it: what `auth.identity` derives, else the
    /// client's address.
    public var identity: Template?
    /// The body of the server's own connection-cap refusals (503 for the total, 429 per identity),
    /// in the profile's error format (names: `reason`, `status`, `limit`, `request`, `conn`, `claims`,
    /// `settings`, `entities`; `conn` and `claims` are null for the total cap, checked before
    /// authentication). Without it: `{"error": ..., "message": reason}`.
    public var tooManyConnections: Template?
    public init() {}

    /// A limit counted across connections: messages of every connection whose `key` evaluates
    /// to the same value count together.
    public struct SharedRateLimit: Sendable {
        /// What the limit is per (names: `conn`, `msg`), e.g. `"{{ conn.tenant }}"`.
        public var key: Template
        public var limit: RateLimit
        public init(key: Template, limit: RateLimit) {
            self.key = key
            self.limit = limit
        }
    }

    public struct RateLimit: Sendable {
        public var max: Int
        public var per: Double
        /// What to do with a refused message (names: `msg`, `conn`, `limit`).
        public var actions: Actions
        public init(max: Int, per: Double, actions: Actions) {
            self.max = max
            self.per = per
            self.actions = actions
        }
    }
}

/// A REST endpoint over the profile's recent events: `GET path` with the profile's auth.
///
/// The server keeps the last `size` published events as items `{time_ms, event, message}`
/// (`message` is the frame as sent, as a value). An item is listed when `filter` is true
/// (names: `item`, `conn`, `request`); the answer is `respond` (names: `items`, `conn`, `request`).
public struct ActivitySpec: Sendable {
    public var path: String
    public var size: Int
    public var filter: Template?
    public var respond: Template
    public init(path: String, size: Int, filter: Template?, respond: Template) {
        self.path = path
        self.size = size
        self.filter = filter
        self.respond = respond
    }
}

/// A number written in a profile (seconds, or a count): fixed, or a template over `settings` (and
/// `entities`) so that a scenario's `settings:` can change it, e.g. `"{{ settings.ping_timeout ?? 60 }}"`.
/// The template may give a number or a duration text such as `"500ms"` or `"1m"`.
public enum NumberSetting: Sendable {
    case fixed(Double)
    case template(Template)

    /// The number for these settings; `nil` when the template fails or gives no positive number.
    public func value(settings: Value, entities: Value = .emptyObject) -> Double? {
        switch self {
        case .fixed(let d): return d
        case .template(let t):
            var ctx = EvaluationContext(variables: ["settings": settings, "entities": entities])
            guard let v = try? t.evaluate(in: &ctx) else { return nil }
            // Positive and at most a billion, so that callers can make an Int of it safely.
            let d = v.doubleValue ?? v.stringValue.flatMap { Double($0) ?? DurationText.seconds($0) }
            guard let d, d.isFinite, d > 0, d <= 1e9 else { return nil }
            return d
        }
    }
}

/// A bounded history of events per key, kept by the server for a profile.
///
/// Every event the shared timeline publishes for the profile is recorded under `key` (events whose
/// key is `null` are not recorded), and so is each event of `initial` when the server starts.
/// A connection sees the history of its `owner` key(s) as `history` (oldest first) in `on_connect`.
public struct HistorySpec: Sendable {
    /// The key an event is stored under (names: `event`, `topic`, `settings`, `entities`).
    public var key: Template
    /// What is stored for an event (names: `event`, `topic`); default: the event itself.
    public var item: Template?
    /// The key whose history a connection reads and `clear_history` clears (names: `conn`, `settings`);
    /// or a list of keys, all read (merged in the order they were recorded), the first one cleared.
    public var owner: Template
    /// At most this many items per key; the oldest are dropped.
    public var size: Int
    /// Events recorded when the server starts, e.g. `"{{ entities.past_logs ?? [] }}"` (names: `settings`, `entities`).
    public var initial: Template?
    public init(key: Template, item: Template? = nil, owner: Template, size: Int, initial: Template? = nil) {
        self.key = key
        self.item = item
        self.owner = owner
        self.size = size
        self.initial = initial
    }
}

/// Per-subscription buffering: each subscription of a connection queues at most `capacity` events;
/// beyond that the oldest of that subscription are dropped, and before the next frame is written
/// the client gets `warning` (names: `dropped`, `subscription`, `conn`, `settings`).
public struct BackpressureSpec: Sendable {
    public var capacity: NumberSetting
    public var warning: Template?
    public init(capacity: NumberSetting, warning: Template?) {
        self.capacity = capacity
        self.warning = warning
    }
}

/// Heartbeats sent by the server, each expecting an acknowledgement (the `ack` action) with its id.
public struct ServerHeartbeatSpec: Sendable {
    /// Interval between heartbeats.
    public var every: NumberSetting
    /// The heartbeat message (names: `heartbeat` with `seq`, `conn`, `settings`).
    public var message: Template
    /// The id an `ack:` action must give to acknowledge the heartbeat (names: `message`, the heartbeat
    /// as sent, and `heartbeat`, `conn`, `settings`, `entities`), e.g. `"{{ message.id }}"`.
    /// Without it, the heartbeat's sequence number (`heartbeat.seq`).
    public var key: Template?
    /// A heartbeat not acknowledged within this long closes the connection with `close`.
    public var grace: NumberSetting
    public var close = CloseAction(code: 1001, reason: .constant(.string("heartbeat not acknowledged")))
    public init(every: NumberSetting, message: Template, grace: NumberSetting) {
        self.every = every
        self.message = message
        self.grace = grace
    }
}

/// Heartbeats.
public struct HeartbeatSpec: Sendable {
    /// Close the connection when no client message matching `clientPattern` arrives for this long.
    public var clientTimeout: Double?
    /// `client_timeout` written as a template over settings; wins over `clientTimeout`.
    public var clientTimeoutSetting: NumberSetting?
    /// Heartbeats the server sends.
    public var server: ServerHeartbeatSpec?
    /// Which client messages count as heartbeats (default: any message).
    public var clientPattern: Pattern?
    /// The close sent on timeout.
    public var timeoutClose = CloseAction(code: 1001, reason: .constant(.string("heartbeat timeout")))
    public init() {}
}

/// One rule for client messages.
public struct Rule: Sendable {
    /// A pattern the message must match.
    public var when: Pattern?
    /// An extra condition (names: `msg`, `conn`, `subscriptions`, `entities`, `settings`).
    public var condition: Template?
    public var actions: Actions
    public var location: SourceLocation

    public init(when: Pattern?, condition: Template?, actions: Actions, location: SourceLocation) {
        self.when = when
        self.condition = condition
        self.actions = actions
        self.location = location
    }
}

/// What a rule does, in this order: subscribe, unsubscribe, set, clear_history, ack, timers
/// (cancel, start, reset), reply, replies, each, close.
public struct Actions: Sendable {
    /// Messages sent back to the client.
    public var reply: [Template] = []
    /// Several messages sent back, one frame each, after `reply` (`replies:`; a template giving a list).
    public var replies: Template?
    /// Timers (re)started: a running one starts over.
    public var startTimers: [String] = []
    /// Timers restarted only if they are running.
    public var resetTimers: [String] = []
    /// Timers stopped.
    public var cancelTimers: [String] = []
    /// One message per item of a list (names add `item` and `index`), after `reply`.
    public var each: EachAction?
    /// Acknowledges the server heartbeat with this id.
    public var ack: Template?
    /// Clears the connection's history key (see `HistorySpec.owner`).
    public var clearHistory = false
    public var subscribe: SubscribeAction?
    public var unsubscribe: UnsubscribeAction?
    /// Values merged into `conn.state`.
    public var set: Template?
    public var close: CloseAction?
    public init() {}
}

/// Sends one message per item.
public struct EachAction: Sendable {
    public var items: Template
    public var message: Template
    public init(items: Template, message: Template) {
        self.items = items
        self.message = message
    }
}

/// Adds subscriptions. Without `key`, one subscription per topic, keyed by the topic.
public struct SubscribeAction: Sendable {
    public var topics: Template
    public var key: Template?
    /// Parameters the filter reads as `sub.params`.
    public var params: Template?
    public init(topics: Template, key: Template? = nil, params: Template? = nil) {
        self.topics = topics
        self.key = key
        self.params = params
    }
}

/// Removes subscriptions by topic or by key.
public struct UnsubscribeAction: Sendable {
    public var topics: Template?
    public var key: Template?
    public init(topics: Template? = nil, key: Template? = nil) {
        self.topics = topics
        self.key = key
    }
}

/// Closes the connection.
public struct CloseAction: Sendable {
    public var code: Int
    public var reason: Template
    public init(code: Int, reason: Template) {
        self.code = code
        self.reason = reason
    }
}

/// What a profile needs from a scenario (`requires:`).
public struct Requirements: Sendable {
    /// Entity table -> the fields every entry of it must have.
    public var entities: [(table: String, fields: [String])] = []
    /// Fields every event of the profile must have, as dotted paths (`tenant_id`, `payload.job_id`).
    public var events: [String] = []
    public init() {}
}
