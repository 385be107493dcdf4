import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TapedeckCore
import TapedeckProtocol
import TapedeckScenario

/// The control API: HTTP and JSON under `/_tapedeck/` on the simulator's own port, to steer a
/// running simulation (timeline, ad-hoc events, faults, scenarios, recordings) and to see its connections.
///
/// It knows no protocol: connections are described by what their profile derived (`conn`), and an
/// emitted event goes through its profile's rendering like a scenario event. With a token, every
/// request needs `Authorization: Bearer <token>` (else 401); a POST must send JSON
/// (`Content-Type: application/json`, else 415), which a browser page of another site cannot do
/// without a CORS preflight that this API never grants.
struct ControlAPI: Sendable {
    static let prefix = "/_tapedeck"

    let hub: Hub
    let world: SimulatorWorld
    let control: TimelineControl
    let gate: UpgradeGate
    let metrics: ServerMetrics
    let clock: any SimulationClock
    let token: String?
    let version: String
    /// The scenarios of the shared timeline (`/_tapedeck/scenarios`).
    let library: ScenarioLibrary
    /// Starts and stops recordings (`/_tapedeck/recording`); `nil` when this server cannot record.
    let recording: RecordingControl?
    /// The recordings the dashboard may open.
    var recordings = RecordingBrowser(directory: nil, liveRecording: nil)
    /// The OpenAPI document served at `/_tapedeck/openapi.yaml`.
    static var openAPIDocument: String? {
        guard let url = Bundle.module.url(forResource: "control-api", withExtension: "yaml") else { return nil }
        return try? String(contentsOf: url, encoding: .utf8)
    }

    /// The fault kinds `POST /_tapedeck/faults` knows.
    static let faultKinds = ScheduledFault.kinds
    /// The keys of a selector (`to`).
    static let selectorKeys = ["path", "profile", "user", "tenant", "connection"]

    /// A request the API refuses: its status and `{"error", "message"}`.
    struct Failure: Error {
        var status: HTTPResponse.Status
        var error: String
        var message: String
        /// More fields of the error object (a scenario's problems, ...).
        var details: [String: Value] = [:]

        static func badRequest(_ message: String) -> Failure { Failure(status: .badRequest, error: "bad_request", message: message) }
    }

    /// Adds the routes to `router`.
    func register(on router: Router<BasicRequestContext>, control enabled: Bool) {
        let metricsRoute: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            guard self.authorized(request) else { return Self.unauthorized() }
            var depths: [String: Int] = [:]
            for c in hub.allConnections {
                if let snapshot = await c.snapshot() { depths[snapshot.profile, default: 0] += snapshot.queueDepth }
            }
            metrics.setQueueDepths(depths)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
        }
        router.get("/metrics", use: metricsRoute)
        guard enabled else { return }
        func get(_ path: String, _ body: @escaping @Sendable (Request) async throws -> Value) {
            router.get(RouterPath("\(Self.prefix)/\(path)")) { request, _ -> Response in
                guard self.authorized(request) else { return Self.unauthorized() }
                do { return Self.json(try await body(request)) } catch let f as Failure { return Self.failure(f) }
            }
        }
        func delete(_ path: String, _ body: @escaping @Sendable (Request, BasicRequestContext) async throws -> Value) {
            router.delete(RouterPath("\(Self.prefix)/\(path)")) { request, context -> Response in
                guard self.authorized(request) else { return Self.unauthorized() }
                do { return Self.json(try await body(request, context)) } catch let f as Failure { return Self.failure(f) }
            }
        }
        func post(_ path: String, _ body: @escaping @Sendable (Value) async throws -> Value) {
            router.post(RouterPath("\(Self.prefix)/\(path)")) { request, _ -> Response in
                guard self.authorized(request) else { return Self.unauthorized() }
                do {
                    let value = try await Self.body(of: request)
                    return Self.json(try await body(value))
                } catch let f as Failure {
                    return Self.failure(f)
                }
            }
        }
        router.get(RouterPath("\(Self.prefix)/metrics"), use: metricsRoute)
        DashboardRoutes(api: self).register(on: router)
        get("health") { _ in
            ["status": "ok", "connections": .int(hub.connectionCount)]
        }
        get("version") { _ in
            ["name": "tapedeck", "version": .string(version)]
        }
        get("connections") { _ in
            var list: [Value] = []
            for c in hub.allConnections {
                if let s = await c.snapshot() { list.append(s.value) }
            }
            return ["connections": .array(list)]
        }
        get("timeline") { _ in timelineStatus() }
        post("timeline/pause") { _ in
            control.pause()
            return timelineStatus()
        }
        post("timeline/resume") { _ in
            control.resume()
            return timelineStatus()
        }
        post("timeline/speed") { body in
            guard let speed = Self.speed(body["speed"]) else {
                throw Failure.badRequest("'speed' must be a number from 0.1 to 1000, or \"max\" (e.g. {\"speed\": 2})")
            }
            control.setSpeed(speed)
            return timelineStatus()
        }
        post("timeline/seek") { body in try seek(body) }
        let scenarios = ScenarioRoutes(api: self)
        get("scenarios") { _ in scenarios.list() }
        post("scenarios") { body in try scenarios.load(body) }
        delete("scenarios/:name") { _, context in try scenarios.unload(context.parameters.get("name") ?? "") }
        let recordings = RecordingRoutes(recording: recording)
        get("recording") { _ in recordings.status() }
        post("recording/start") { body in try await recordings.start(body) }
        post("recording/stop") { _ in try await recordings.stop() }
        post("emit") { body in try await emit(body) }
        post("faults") { body in try await fault(body) }
        router.get(RouterPath("\(Self.prefix)/openapi.yaml")) { request, _ -> Response in
            guard self.authorized(request) else { return Self.unauthorized() }
            guard let text = Self.openAPIDocument else {
                return Self.json(["error": "not_found", "message": "this build has no OpenAPI document"], status: .notFound)
            }
            return Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }

    // MARK: Requests and responses

    func authorized(_ request: Request) -> Bool {
        guard let token else { return true }
        // Compared in constant time: how long a wrong guess takes says nothing about the token.
        let given = Array((request.headers[.authorization] ?? "").utf8)
        let wanted = Array("Bearer \(token)".utf8)
        guard given.count == wanted.count else { return false }
        return zip(given, wanted).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    static func unauthorized() -> Response {
        var r = json(["error": "unauthorized", "message": "this control API needs Authorization: Bearer <the --control-token>"], status: .unauthorized)
        r.headers[.wwwAuthenticate] = "Bearer"
        return r
    }

    /// A POST's JSON body (an empty body is `{}`).
    static func body(of request: Request) async throws -> Value {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        var buffer = try await request.body.collect(upTo: 1 << 20)
        if buffer.readableBytes == 0 { return .emptyObject }
        guard type.hasPrefix("application/json") else {
            throw Failure(status: .unsupportedMediaType, error: "unsupported_media_type", message: "send the body as JSON, with Content-Type: application/json")
        }
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        let value: Value
        do { value = try Value(jsonBytes: bytes) } catch { throw Failure.badRequest("the body is not valid JSON: \(error)") }
        guard case .object = value else { throw Failure.badRequest("the body must be a JSON object") }
        return value
    }

    static func json(_ value: Value, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: value.jsonString + "\n")))
    }

    static func failure(_ f: Failure) -> Response {
        var object: Value = ["error": .string(f.error), "message": .string(f.message)]
        for (k, v) in f.details.sorted(by: { $0.key < $1.key }) { object[k] = v }
        return json(object, status: f.status)
    }

    static func speed(_ value: Value?) -> SimulatorConfiguration.Speed? {
        switch value {
        case .string(let s)?: SimulatorConfiguration.Speed(s)
        case let v? where v.doubleValue != nil: SimulatorConfiguration.Speed(String(v.doubleValue!))
        default: nil
        }
    }

    // MARK: Timeline

    func timelineStatus() -> Value {
        let s = control.status
        let speed: Value = switch s.speed {
        case .max: "max"
        case .factor(let f): .double(f)
        }
        return [
            "paused": .bool(s.paused), "speed": speed, "scenario_time": s.scenarioTime.map { .double(($0 * 1000).rounded() / 1000) } ?? .null,
            "events_sent": .int(s.eventsSent), "lag_seconds": .double((s.lag * 1000).rounded() / 1000), "timelines": .int(s.timelines),
        ]
    }

    /// `POST /_tapedeck/timeline/seek`: moves the shared timeline to `to` (seconds, or a duration as
    /// the scenarios write them: `90s`, `1m30s`).
    func seek(_ body: Value) throws -> Value {
        let to: Double? =
            switch body["to"] {
            case .string(let text)?: DurationText.seconds(text)
            case let v?: v.doubleValue
            case nil: nil
            }
        guard let to, to.isFinite, to >= 0, to <= Self.maxSeek else {
            throw Failure.badRequest("'to' must be a scenario time from 0 to \(Int(Self.maxSeek)) seconds: a number of seconds or a duration (e.g. {\"to\": \"90s\"})")
        }
        guard library.mutable else {
            throw Failure(
                status: .conflict, error: "per_connection_timelines",
                message: "this server plays one timeline per connection (--timeline per-connection): seek applies to the shared timeline only")
        }
        control.seek(to: to)
        return timelineStatus()
    }

    /// The farthest a seek goes (a week of scenario time: the events between are generated to be skipped).
    static let maxSeek = 604_800.0

    // MARK: Selectors

    /// The connections a selector (`to`) names; every connection without one.
    func select(_ selector: Value?) async throws -> [(SimulatorConnection, ConnectionSnapshot)] {
        try await FaultInjector(hub: hub, gate: gate).select(selector)
    }

    // MARK: Emit

    func emit(_ body: Value) async throws -> Value {
        guard let event = body["event"], case .object = event else {
            throw Failure.badRequest("'event' must be an object: the event as a scenario stream would make it, e.g. {\"event\": {\"type\": \"incident\"}}")
        }
        let selector = try ConnectionSelector(body["to"])
        var profiles: [String]
        if let p = body["profile"] {
            guard let name = p.stringValue, let entry = world.entry(for: name) else {
                throw Failure.badRequest("unknown profile \(p.jsonString); this server plays: \(world.profileOrder.joined(separator: ", "))")
            }
            profiles = [entry.profile.name]
        } else if let p = selector.profile {
            profiles = [p]
        } else {
            profiles = world.profileOrder
        }
        let targets = try await select(body["to"])
        var delivered: [Value] = []
        var rendered: [Value] = []
        for name in profiles {
            let conns = targets.filter { $0.0.profileName == name }
            guard let entry = world.entry(for: name) else { continue }
            // Templated like a stream's event: `{{ uuid() }}`, `{{ now() }}`, settings, entities.
            var ctx = EvaluationContext(
                variables: ["settings": entry.settings, "entities": entry.entities, "vars": .emptyObject],
                random: SeededRandom(seed: UInt64(Int(clock.wallTime * 1000)), stream: "emit"), now: clock.wallTime)
            let value: Value
            do { value = try Template(value: event).evaluate(in: &ctx) } catch {
                throw Failure.badRequest("the event's template fails: \(error)")
            }
            guard let (_, prepared) = hub.prepare(TimelineEvent(time: 0, stream: "control-api", profile: name, sequence: 1, value: value)) else {
                throw Failure(status: .unprocessableContent, error: "cannot_render", message: "profile \(name) cannot render this event (see the server's log)")
            }
            rendered.append(.string(name))
            for (c, _) in conns {
                if await c.offer([prepared]) > 0 { delivered.append(.int(c.id)) }
            }
        }
        return ["profiles": .array(rendered), "matched": .int(targets.count), "delivered_to": .array(delivered)]
    }

    // MARK: Faults

    func fault(_ body: Value) async throws -> Value {
        try await FaultInjector(hub: hub, gate: gate).apply(body)
    }

}
