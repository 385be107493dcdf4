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

    /// - Parameters:
    ///   - tap: sees every connection and frame (for `serve --record`).
    ///   - probe: counts the client messages the server has handled, for callers that wait on it
    ///     (the test runner) instead of sleeping.
    ///   - onReady: called once the server listens, with the actual port.
    public init(
        world: SimulatorWorld, configuration: SimulatorConfiguration, clock: any SimulationClock = RealClock(),
        logger: Logger = Logger(label: "tapedeck.serve"), tap: (any SimulatorTap)? = nil, probe: SimulatorProbe? = nil,
        onReady: @escaping @Sendable (_ host: String, _ port: Int) async -> Void = { _, _ in }
    ) {
        self.tap = tap
        self.probe = probe
        self.world = world
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.onReady = onReady
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
        let scheduler = Scheduler(hub: hub, world: world, configuration: configuration, clock: clock, logger: logger)
        let endpoints = self.endpoints
        let world = self.world
        let configuration = self.configuration
        let clock = self.clock
        let logger = self.logger
        let onReady = self.onReady
        let tap = self.tap

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

        let upgrader = Upgrader(
            endpoints: endpoints, world: world, authenticator: authenticator, hub: hub,
            configuration: configuration, clock: clock, logger: logger, tap: tap)
        let services = WebSocketConnectionHandler.Services(
            hub: hub, scheduler: scheduler, configuration: configuration, clock: clock, logger: logger, tap: tap, probe: probe)
        let maxFrameSize = configuration.maxMessageSize
        let handshakeTimeout = configuration.handshakeTimeout
        let listening = ListeningFlag()
        let app = Application(
            router: router,
            server: HTTPServerBuilder { responder in
                SimulatorChannel(
                    responder: responder, upgrader: upgrader, services: services, maxFrameSize: maxFrameSize, handshakeTimeout: handshakeTimeout)
            },
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in
                listening.set()
                let port = channel.localAddress?.port ?? configuration.port
                await onReady(configuration.host, port)
            },
            logger: logger
        )
        return [
            ListenerService(app: app, listening: listening, host: configuration.host, port: configuration.port),
            HubService(hub: hub, scheduler: scheduler, configuration: configuration, logger: logger),
        ]
    }
}

extension SimulatorServer: CustomStringConvertible {
    /// The address only: its configuration and world carry secrets (the JWT secret, credentials).
    public var description: String { "SimulatorServer(\(configuration.host):\(configuration.port))" }
}
