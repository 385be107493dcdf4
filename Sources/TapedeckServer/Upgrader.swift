import Logging
import TapedeckCore
import TapedeckScenario
import TapedeckProtocol
import HTTPTypes
import NIOCore
import OrderedCollections
import TapedeckCompression
import TapedeckHandshake

/// Decides each WebSocket upgrade: finds the profile for the path, authenticates, and either
/// refuses with the profile's status (401, 403, ...) or sets up the connection.
struct Upgrader: Sendable {
    /// What to do with an upgrade request.
    enum Decision: Sendable {
        case accept(WebSocketConnectionHandler.Setup)
        case refuse(UpgradeRefusal)
    }

    let endpoints: OrderedDictionary<String, [String]>
    let world: SimulatorWorld
    let authenticator: Authenticator
    let hub: Hub
    let configuration: SimulatorConfiguration
    let clock: any SimulationClock
    let logger: Logger
    let tap: (any SimulatorTap)?
    /// The `refuse_upgrades` fault.
    let gate: UpgradeGate
    let metrics: ServerMetrics

    func decide(_ head: HTTPRequest, channel: any Channel) async -> Decision {
        let uri = head.path ?? "/"
        var headers = head.headerFields.map { (name: $0.name.canonicalName, value: $0.value) }
        // The first Host header became the authority; another one left in the fields means the
        // request had two, which HTTP/1.1 answers with 400.
        if head.authority != nil, head.headerFields.contains(where: { $0.name.canonicalName == "host" }) {
            let peer = Self.describe(channel.remoteAddress)
            let request = UpgradeRequest(uri: uri, headers: headers)
            let refusal = await refuse(
                channel, status: 400, body: ["error": "Bad Request", "message": "more than one Host header"], request: request,
                query: uri.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init), headers: headers, peer: peer, profile: nil)
            logger.info("refused upgrade", metadata: ["path": "\(request.path)", "status": "400", "reason": "more than one Host header", "peer": "\(peer)"])
            return .refuse(refusal)
        }
        // HTTP/1 `Host` arrives as the request's authority; profiles read it as `request.host`.
        if let authority = head.authority, !headers.contains(where: { $0.name.lowercased() == "host" }) {
            headers.append((name: "host", value: authority))
        }
        let request = UpgradeRequest(uri: uri, headers: headers)
        let peer = Self.describe(channel.remoteAddress)
        let query = uri.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init)
        // A browser page of another site (cross-site WebSocket hijacking), when origins are listed.
        if let origin = request.header("origin"), !OriginPolicy(allowed: configuration.allowedOrigins).allows(origin) {
            let refusal = await refuse(
                channel, status: 403, body: .string("origin \(origin) is not allowed"), request: request, query: query, headers: headers, peer: peer,
                profile: nil)
            logger.info("refused upgrade", metadata: ["path": "\(request.path)", "status": "403", "reason": "origin \(origin) is not in --allow-origin", "peer": "\(peer)"])
            return .refuse(refusal)
        }
        guard let names = endpoints[request.path] else {
            var body: Value = ["error": "Not Found", "message": .string("no WebSocket endpoint at \(request.path)")]
            body["endpoints"] = .array(endpoints.keys.map(Value.string))
            let refusal = await refuse(channel, status: 404, body: body, request: request, query: query, headers: headers, peer: peer, profile: nil)
            logger.info("refused upgrade", metadata: ["path": "\(request.path)", "status": "404", "peer": "\(peer)"])
            return .refuse(refusal)
        }
        let entry = pickProfile(names, request: request)
        let profile = entry.profile
        // The control API's refuse_upgrades fault.
        if let rule = gate.refusal(path: request.path, profile: profile.name) {
            var extra: OrderedDictionary<String, String> = [:]
            if let after = rule.retryAfter { extra["Retry-After"] = String(after) }
            let body: Value = [
                "error": rule.status == 429 ? "Too Many Requests" : "Service Unavailable",
                "message": "upgrades are refused for now (a fault injected through the control API)",
            ]
            logger.info("refused upgrade", metadata: ["path": "\(request.path)", "profile": "\(profile.name)", "status": "\(rule.status)", "reason": "refuse_upgrades fault", "peer": "\(peer)"])
            return .refuse(
                await refuse(channel, status: rule.status, body: body, extraHeaders: extra, request: request, query: query, headers: headers, peer: peer, profile: profile.name))
        }
        // The server's cap on connections, before any work on credentials; the slot is held until
        // the socket closes, refused or not.
        if let max = configuration.maxConnections {
            switch hub.reserveSlot(key: Self.totalSlots, max: max) {
            case .success(let slot):
                channel.closeFuture.whenComplete { _ in slot.release() }
            case .failure:
                let reason = "too many connections: the server's limit is \(max)"
                return .refuse(
                    await tooManyConnections(
                        channel, status: 503, reason: reason, limit: max, entry: entry, request: request, query: query, headers: headers, peer: peer,
                        conn: .null))
            }
        }
        let endpoint = profile.endpoints.first { $0.path == request.path }?.name ?? request.path
        let subprotocol: String?
        switch selectSubprotocol(profile: profile, entry: entry, request: request) {
        case .success(let selected): subprotocol = selected
        case .failure(let refused):
            let refusal = await refuse(channel, status: refused.status, body: refused.body, request: request, query: query, headers: headers, peer: peer, profile: profile.name)
            logger.info("refused upgrade", metadata: ["path": "\(request.path)", "profile": "\(profile.name)", "status": "\(refused.status)", "reason": "no supported subprotocol offered", "peer": "\(peer)"])
            return .refuse(refusal)
        }
        let outcome = await authenticator.authenticate(
            request, profile: profile, endpoint: endpoint, entities: entry.entities, settings: entry.settings, now: clock.wallTime)
        switch outcome {
        case .refused(let status, let body, let reason, let extra):
            let refusal = await refuse(channel, status: status, body: body, extraHeaders: extra, request: request, query: query, headers: headers, peer: peer, profile: profile.name)
            logger.info("refused upgrade", metadata: ["path": "\(request.path)", "profile": "\(profile.name)", "status": "\(status)", "reason": "\(reason)", "peer": "\(peer)"])
            return .refuse(refusal)
        case .accepted(var conn):
            if let max = configuration.maxConnectionsPerIdentity {
                let identity = Self.identity(of: conn, entry: entry, request: request, address: channel.remoteAddress)
                switch hub.reserveSlot(key: "\u{1}identity\u{0}\(profile.name)\u{0}\(identity)", max: max) {
                case .success(let slot):
                    channel.closeFuture.whenComplete { _ in slot.release() }
                case .failure:
                    let reason = "too many connections for this identity: the limit is \(max)"
                    return .refuse(
                        await tooManyConnections(
                            channel, status: 429, reason: reason, limit: max, entry: entry, request: request, query: query, headers: headers,
                            peer: peer, conn: conn))
                }
            }
            if let limit = profile.auth.connectionLimit {
                var ctx = EvaluationContext(variables: ["conn": conn, "claims": conn["claims"] ?? .null, "request": request.value, "settings": entry.settings, "entities": entry.entities, "connections": 0])
                let key = (try? limit.per.evaluate(in: &ctx).plainText) ?? "all"
                let max = limit.maxSetting.flatMap { $0.value(settings: entry.settings, entities: entry.entities) }.map { Int($0) } ?? limit.max
                // The slot is taken now, atomically, and held until the socket closes.
                switch hub.reserveSlot(key: profile.name + "\u{0}" + key, max: max) {
                case .success(let slot):
                    channel.closeFuture.whenComplete { _ in slot.release() }
                case .failure(let full):
                    ctx.variables["connections"] = .int(full.held)
                    let body = (try? limit.refusal.body.evaluate(in: &ctx)) ?? .string("Too many connections")
                    var extra: OrderedDictionary<String, String> = [:]
                    for (name, value) in limit.refusal.headers {
                        if let v = try? value.evaluate(in: &ctx), !v.isNull { extra[name] = v.plainText }
                    }
                    let refusal = await refuse(channel, status: limit.refusal.status, body: body, extraHeaders: extra, request: request, query: query, headers: headers, peer: peer, profile: profile.name)
                    logger.info("refused upgrade", metadata: ["path": "\(request.path)", "profile": "\(profile.name)", "status": "\(limit.refusal.status)", "reason": "connection limit \(max) for \(key)"])
                    return .refuse(refusal)
                }
            }
            let id = hub.nextConnectionID()
            conn["id"] = .int(id)
            conn["query"] = request.value["query"] ?? .emptyObject
            conn["subprotocol"] = subprotocol.map(Value.string) ?? .null
            // permessage-deflate when the profile enables it and the client offers it acceptably.
            let offers = ExtensionOffer.parse(headers.filter { $0.name.lowercased() == "sec-websocket-extensions" }.map(\.value)) ?? []
            let deflate = profile.compression?.accept(offers)
            let engine = ConnectionEngine(
                profile: profile, conn: conn, entities: entry.entities, settings: entry.settings,
                now: seconds(clock.elapsed), seed: UInt64(id), sharedLimiter: entry.sharedLimiter)
            let codec = entry.codec
            var tagCapacity: Int?
            var warning: OutboundQueue.Warning?
            var queueCapacity = configuration.queueCapacity
            if let bp = profile.backpressure {
                let capacity = Int(bp.capacity.value(settings: entry.settings, entities: entry.entities) ?? 1000)
                tagCapacity = capacity
                // Room for every subscription's buffer, so per-subscription limits apply first.
                queueCapacity = Swift.max(queueCapacity, capacity * Swift.max(1, profile.subscriptions.max ?? 1))
                if let template = bp.warning {
                    let settings = entry.settings, entities = entry.entities, connValue = conn
                    warning = { tag, dropped in
                        var ctx = EvaluationContext(
                            variables: ["dropped": .int(dropped), "subscription": .string(tag), "conn": connValue, "settings": settings, "entities": entities],
                            now: clock.wallTime)
                        return (try? template.evaluate(in: &ctx)).flatMap { try? codec.encode($0) }
                    }
                }
            }
            return .accept(
                WebSocketConnectionHandler.Setup(
                    id: id, profileName: profile.name, engine: engine, codec: codec, queueCapacity: queueCapacity, tagCapacity: tagCapacity,
                    warning: warning, ownsTimeline: configuration.timeline == .perConnection, peer: peer, path: request.path, query: query,
                    headers: headers, subprotocol: subprotocol, deflate: deflate))
        }
    }

    /// The hub's slot key of the server's total connection cap.
    static let totalSlots = "\u{1}total"

    /// Who a connection is, for `--max-connections-per-identity`: the profile's `limits.identity`;
    /// else what its `auth.identity` derives (the connection's `conn` without `claims` and
    /// `endpoint`); else, with credentials, their claims; else the client's IP address.
    static func identity(of conn: Value, entry: SimulatorWorld.ProfileEntry, request: UpgradeRequest, address: SocketAddress?) -> String {
        let auth = entry.profile.auth
        let claims = conn["claims"] ?? .null
        if let template = entry.profile.limits.identity {
            var ctx = EvaluationContext(
                variables: ["conn": conn, "claims": claims, "request": request.value, "settings": entry.settings, "entities": entry.entities])
            if let v = try? template.evaluate(in: &ctx) { return v.plainText }
        }
        if auth.identity != nil, case .object(var fields) = conn {
            fields["claims"] = nil
            fields["endpoint"] = nil
            return Value.object(fields).jsonString
        }
        if !auth.credentials.isEmpty { return claims.jsonString }
        return address?.ipAddress ?? "?"
    }

    /// Refuses an upgrade over a connection cap: `status` (503, 429) with the profile's
    /// `limits.too_many_connections` body, else `{"error": ..., "message": reason}`.
    func tooManyConnections(
        _ channel: any Channel, status: Int, reason: String, limit: Int, entry: SimulatorWorld.ProfileEntry, request: UpgradeRequest,
        query: String?, headers: [(name: String, value: String)], peer: String, conn: Value
    ) async -> UpgradeRefusal {
        var body: Value = ["error": status == 503 ? "Service Unavailable" : "Too Many Requests", "message": .string(reason)]
        if let template = entry.profile.limits.tooManyConnections {
            var ctx = EvaluationContext(
                variables: [
                    "reason": .string(reason), "status": .int(status), "limit": .int(limit), "request": request.value, "conn": conn,
                    "claims": conn["claims"] ?? .null, "settings": entry.settings, "entities": entry.entities,
                ], now: clock.wallTime)
            if let v = try? template.evaluate(in: &ctx) { body = v }
        }
        logger.info(
            "refused upgrade",
            metadata: ["path": "\(request.path)", "profile": "\(entry.profile.name)", "status": "\(status)", "reason": "\(reason)", "peer": "\(peer)"])
        return await refuse(channel, status: status, body: body, request: request, query: query, headers: headers, peer: peer, profile: entry.profile.name)
    }

    /// The subprotocols a request offers, in its order.
    static func offeredSubprotocols(_ request: UpgradeRequest) -> [String] {
        SubprotocolSpec.offered(in: request.headers.filter { $0.name.lowercased() == "sec-websocket-protocol" }.map(\.value))
    }

    /// A refused subprotocol negotiation: the profile's status and body.
    struct SubprotocolRefused: Error {
        var status: Int
        var body: Value
    }

    /// The subprotocol to answer: the first of the client's `Sec-WebSocket-Protocol` offer that the
    /// profile speaks; `nil` when the profile declares none or the client offers none of them
    /// (then refused when the profile requires one).
    func selectSubprotocol(profile: Profile, entry: SimulatorWorld.ProfileEntry, request: UpgradeRequest) -> Result<String?, SubprotocolRefused> {
        guard let spec = profile.subprotocols else { return .success(nil) }
        let offered = Self.offeredSubprotocols(request)
        if let selected = spec.select(offered: offered) { return .success(selected) }
        guard spec.required else { return .success(nil) }
        var ctx = EvaluationContext(
            variables: ["request": request.value, "offered": .array(offered.map(Value.string)), "settings": entry.settings, "entities": entry.entities],
            now: clock.wallTime)
        let body = (try? spec.refusal.body.evaluate(in: &ctx)) ?? .string("Unsupported WebSocket subprotocol")
        return .failure(SubprotocolRefused(status: spec.refusal.status, body: body))
    }

    /// With several profiles on one path, the first whose credentials the request carries.
    /// A profile that speaks a subprotocol the client offers goes first (`graphql-ws` and
    /// `graphql-transport-ws` on one path).
    func pickProfile(_ names: [String], request: UpgradeRequest) -> SimulatorWorld.ProfileEntry {
        var entries = names.compactMap { world.profiles[$0] }
        let offered = Self.offeredSubprotocols(request)
        if !offered.isEmpty {
            let speaking = entries.filter { $0.profile.subprotocols?.select(offered: offered) != nil }
            if !speaking.isEmpty { entries = speaking }
        }
        for e in entries {
            for c in e.profile.auth.credentials {
                let present: Bool = switch c.place.resolved(settings: e.settings) {
                case .cookie(let n): request.cookie(n) != nil
                case .query(let n): request.queryValue(n) != nil
                case .header(let n): request.header(n) != nil
                case .bearer: request.header("authorization")?.lowercased().hasPrefix("bearer ") ?? false
                }
                if present { return e }
            }
        }
        return entries[0]
    }

    func refuse(
        _ channel: any Channel, status: Int, body: Value, extraHeaders: OrderedDictionary<String, String> = [:], request: UpgradeRequest, query: String?,
        headers: [(name: String, value: String)], peer: String, profile: String?
    ) async -> UpgradeRefusal {
        metrics.refusedUpgrade(status: status)
        let (bytes, type): ([UInt8], String) =
            if case .string(let s) = body { (Array((s + "\n").utf8), "text/plain; charset=utf-8") } else { (Array((body.jsonString + "\n").utf8), "application/json") }
        // The profile's headers (`unauthorized.headers`); a value cannot end the header early.
        let extra = extraHeaders.map { ($0.key, String($0.value.filter { $0 != "\r" && $0 != "\n" })) }
        await tap?.refused(
            TappedRefusal(
                path: request.path, query: query, headers: headers, peer: peer, profile: profile, status: status, body: bytes,
                responseHeaders: [("content-type", type), ("content-length", String(bytes.count))] + extra.map { (name: $0.0, value: $0.1) }))
        return UpgradeRefusal(status: status, body: bytes, contentType: type, extraHeaders: extra)
    }

    /// `127.0.0.1:53211` or `[::1]:53211`, as the recording proxy writes a peer.
    static func describe(_ address: SocketAddress?) -> String {
        guard let address else { return "?" }
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}

func seconds(_ d: Duration) -> Double {
    let c = d.components
    return Double(c.seconds) + Double(c.attoseconds) / 1e18
}
