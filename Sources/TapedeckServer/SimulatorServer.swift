public import Logging
public import ServiceLifecycle
public import TapedeckCore
import TapedeckScenario
import TapedeckProtocol
import Hummingbird
import HummingbirdCore
import HTTPTypes
import NIOCore
import OrderedCollections
import Synchronization

/// The simulator: serves every profile of a world over WebSocket and plays its scenarios.
///
/// Run it as a `Service` (it shuts down gracefully: clients get close 1001), or call `run()`.
public struct SimulatorServer: Service {
    public let world: SimulatorWorld
    public let configuration: SimulatorConfiguration
    let clock: any SimulationClock
    let logger: Logger
    let onReady: @Sendable (_ host: String, _ port: Int) async -> Void
    let tap: (any SimulatorTap)?
    let probe: SimulatorProbe?
    /// Opens the recordings the control API starts; `nil`: it cannot record.
    let recordings: (any RecordingOpener)?
    /// The server's Prometheus metrics (served at `/metrics`).
    public let metrics: ServerMetrics
    private let live = LiveParts()

    /// The parts a running server reports its status from (set by `makeServices`).
    private final class LiveParts: Sendable {
        let parts = Mutex<(hub: Hub, control: TimelineControl)?>(nil)
    }

    /// A running server at a glance, for `serve`'s status line.
    public struct Status: Sendable {
        public var connections: Int
        public var eventsSent: Int
        public var dropped: Int
        /// How late the scheduler's hand-overs were since the previous `status()`, at most, in seconds.
        public var lag: Double
        public var paused: Bool

        /// One line for a terminal: `[status] 3 connections, 120 events sent (12/s), 0 dropped, lag 2 ms`.
        /// - Parameter rate: events sent per second since the last line.
        public func line(rate: Double) -> String {
            "[status] \(connections) connection\(connections == 1 ? "" : "s"), \(eventsSent) events sent (\(Int(rate.rounded()))/s), "
                + "\(dropped) dropped, lag \(Int((lag * 1000).rounded())) ms\(paused ? ", paused" : "")"
        }

        /// A warning when the schedule is more than `threshold` seconds behind, else `nil`.
        public func behindWarning(threshold: Double = 1) -> String? {
            guard lag > threshold else { return nil }
            let behind = (lag * 10).rounded() / 10
            return "warning: the schedule is \(behind) s behind: events are due faster than they can be sent"
        }
    }

    /// The server's status now; `nil` before `makeServices()`. Its `lag` is the largest since the
    /// previous call (one reader: `serve`'s status line).
    public func status() -> Status? {
        guard let (hub, control) = live.parts.withLock({ $0 }) else { return nil }
        let t = control.status
        return Status(
            connections: hub.connectionCount, eventsSent: t.eventsSent, dropped: metrics.droppedCount, lag: control.takeMaxLag(), paused: t.paused)
    }

    /// - Parameters:
    ///   - tap: sees every connection and frame (for `serve --record`).
    ///   - probe: counts the client messages the server has handled, for callers that wait on it
    ///     (the test runner) instead of sleeping.
    ///   - metrics: the metrics to count into (default: a new registry of this server's own).
    ///   - recordings: opens the recordings that `POST /_tapedeck/recording/start` starts (without
    ///     it, the control API answers that this server cannot record).
    ///   - onReady: called once the server listens, with the actual port.
    public init(
        world: SimulatorWorld, configuration: SimulatorConfiguration, clock: any SimulationClock = RealClock(),
        logger: Logger = Logger(label: "tapedeck.serve"), tap: (any SimulatorTap)? = nil, probe: SimulatorProbe? = nil,
        metrics: ServerMetrics? = nil, recordings: (any RecordingOpener)? = nil, onReady: @escaping @Sendable (_ host: String, _ port: Int) async -> Void = { _, _ in }
    ) {
        self.tap = tap
        self.probe = probe
        self.recordings = recordings
        self.world = world
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.onReady = onReady
        self.metrics = metrics ?? ServerMetrics(profiles: world.profileOrder)
    }

    /// The WebSocket endpoints served: path -> profile names.
    public var endpoints: OrderedDictionary<String, [String]> {
        var out = OrderedDictionary<String, [String]>()
        for name in world.profileOrder {
            guard let e = world.profiles[name] else { continue }
            for ep in e.profile.endpoints { out[ep.path, default: []].append(name) }
        }
        return out
    }

    /// Runs the server until a graceful shutdown (or cancellation).
    ///
    /// Throws ``SimulatorServerError`` when it cannot listen (the port is in use, ...).
    public func run() async throws {
        let group = ServiceGroup(configuration: .init(services: try await makeServices(), logger: logger))
        try await group.run()
    }

    /// The server as services, in start order: the HTTP application, then the hub that plays the
    /// timeline and owns the connections.
    ///
    /// Run them in one `ServiceGroup` (after, say, a recording writer): on graceful shutdown the
    /// group stops them in reverse order, so the hub first closes every client with 1001 (going
    /// away), then the application stops listening, then what was started before them ends.
    public func makeServices() async throws -> [any Service] {
        let authenticator = try await Authenticator(
            secret: configuration.jwtSecret, issuer: configuration.jwtIssuer, audience: configuration.jwtAudience, leeway: configuration.jwtLeeway)
        let hub = Hub(world: world, clock: clock, logger: logger, stallAllowance: configuration.maxSpeedStall, probe: probe)
        let metrics = self.metrics
        let control = TimelineControl(
            speed: configuration.speed ?? .factor(world.scenarios.first?.speed ?? 1), clock: clock, metrics: metrics)
        let gate = UpgradeGate(clock: clock)
        live.parts.withLock { $0 = (hub, control) }
        let library = ScenarioLibrary(world: world, mutable: configuration.timeline == .shared)
        let scheduler = Scheduler(
            hub: hub, world: world, configuration: configuration, clock: clock, logger: logger, control: control,
            faults: FaultInjector(hub: hub, gate: gate), library: library)
        // The control API's recordings tap every connection; frames reach it only while one runs.
        var recording: RecordingControl?
        if configuration.controlEnabled, let opener = recordings {
            recording = RecordingControl(opener: opener, metrics: metrics, clock: self.clock)
        }
        let endpoints = self.endpoints
        let world = self.world
        let configuration = self.configuration
        let clock = self.clock
        let logger = self.logger
        let onReady = self.onReady
        let tap = Self.combine(self.tap, recording)
        // Without a tap of its own, a connection hands frames over only while a recording runs.
        let tapSwitch = self.tap == nil ? recording : nil
        let recordingControl = recording

        let router = Router()
        router.get("/") { _, _ -> Response in
            var list: [Value] = []
            for (path, names) in endpoints { list.append(["path": .string(path), "profiles": .array(names.map(Value.string))]) }
            let info: Value = [
                "name": "tapedeck", "scenarios": .array(world.scenarios.map { .string($0.name) }), "endpoints": .array(list),
            ]
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: info.prettyJSONString + "\n")))
        }
        router.get("/healthz") { _, _ in "ok\n" }
        ControlAPI(
            hub: hub, world: world, control: control, gate: gate, metrics: metrics, clock: clock, token: configuration.controlToken,
            version: configuration.version, library: library, recording: recordingControl,
            recordings: RecordingBrowser(directory: configuration.recordingsDirectory, liveRecording: configuration.liveRecording)
        ).register(on: router, control: configuration.controlEnabled)
        for name in world.profileOrder {
            guard let entry = world.profiles[name], let spec = entry.profile.activity, let log = hub.activity[name] else { continue }
            let endpoint = ActivityEndpoint(entry: entry, spec: spec, log: log, authenticator: authenticator, clock: clock)
            router.get(RouterPath(spec.path)) { request, _ -> Response in
                let upgrade = UpgradeRequest(uri: request.uri.description, headers: request.headers.map { ($0.name.canonicalName, $0.value) })
                let (status, body) = await endpoint.respond(to: upgrade)
                if let tap {
                    let query = request.uri.query
                    await tap.http(TappedHTTPRequest(path: upgrade.path, query: query, headers: upgrade.headers, peer: nil, profile: name, status: status))
                }
                return Response(
                    status: .init(code: status), headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: body.jsonString + "\n")))
            }
        }

        // A plain GET on a WebSocket path: 426, naming what is served there.
        var routed = Set(["/", "/healthz", "/metrics"])
        for name in world.profileOrder { if let p = world.profiles[name]?.profile.activity?.path { routed.insert(p) } }
        for (path, names) in endpoints where !routed.contains(path) && !path.hasPrefix(ControlAPI.prefix + "/") {
            let text = "\(path) is a WebSocket endpoint (\(names.joined(separator: ", "))): connect with a WebSocket client (Upgrade: websocket).\n"
            router.get(RouterPath(path)) { _, _ -> Response in
                Response(
                    status: .upgradeRequired,
                    headers: [.contentType: "text/plain; charset=utf-8", .upgrade: "websocket", .connection: "Upgrade"],
                    body: .init(byteBuffer: ByteBuffer(string: text)))
            }
        }

        let upgrader = Upgrader(
            endpoints: endpoints, world: world, authenticator: authenticator, hub: hub,
            configuration: configuration, clock: clock, logger: logger, tap: tap, gate: gate, metrics: metrics)
        let services = WebSocketConnectionHandler.Services(
            hub: hub, scheduler: scheduler, configuration: configuration, clock: clock, logger: logger, tap: tap, probe: probe,
            control: control, metrics: metrics, tapSwitch: tapSwitch)
        let maxFrameSize = configuration.maxMessageSize
        let handshakeTimeout = configuration.handshakeTimeout
        let listening = ListeningFlag()
        let app = Application(
            router: router,
            server: HTTPServerBuilder { responder in
                SimulatorChannel(
                    responder: responder, upgrader: upgrader, services: services, maxFrameSize: maxFrameSize, handshakeTimeout: handshakeTimeout)
            },
            // A deep accept queue, emptied many at a time: while the loop is busy fanning events
            // out, a burst of new clients (a load test ramping up) waits in the queue and is
            // taken in a few wakeups, instead of overflowing it and retrying its SYN for seconds.
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil, backlog: 4096),
            onServerRunning: { channel in
                try? await channel.setOption(.maxMessagesPerRead, value: 256)
                listening.set()
                let port = channel.localAddress?.port ?? configuration.port
                await onReady(configuration.host, port)
            },
            logger: logger
        )
        return [
            ListenerService(app: app, listening: listening, host: configuration.host, port: configuration.port),
            HubService(hub: hub, scheduler: scheduler, configuration: configuration, logger: logger, recording: recordingControl),
        ]
    }
}

extension SimulatorServer {
    /// The server's tap: its own, the control API's recordings, both, or none.
    static func combine(_ tap: (any SimulatorTap)?, _ recording: RecordingControl?) -> (any SimulatorTap)? {
        guard let recording else { return tap }
        guard let tap else { return recording }
        return TapFanOut([tap, recording])
    }
}

extension SimulatorServer: CustomStringConvertible {
    /// The address only: its configuration and world carry secrets (the JWT secret, credentials).
    public var description: String { "SimulatorServer(\(configuration.host):\(configuration.port))" }
}
