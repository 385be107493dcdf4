public import TapedeckCore
import TapedeckProtocol
public import TapedeckServer
import Synchronization

/// Feeds the simulator's tap into one ``ConformanceChecker`` per served profile that states client
/// rules (`serve --conformance`).
///
/// The simulator calls a tap off its event loops, one task per connection, so checking never slows
/// delivery; each call reads the simulation clock once for the observation's time.
public final class ConformanceTap: SimulatorTap {
    private struct State {
        var checkers: [String: ConformanceChecker] = [:]
        /// Each open connection's profile, and who sent a close frame first.
        var connections: [Int: (profile: String, closer: CloseInitiator?)] = [:]
    }

    private let clock: any SimulationClock
    private let identifiers: [String: ClientIdentifier]
    private let decoders: [String: ProfileFrameDecoder]
    private let order: [String]
    private let state: Mutex<State>

    /// - Parameters:
    ///   - identifiers: one per served profile, by profile name; profiles without `client:` rules are ignored.
    public init(identifiers: [String: ClientIdentifier], order: [String], clock: any SimulationClock) {
        let checked = identifiers.filter { $0.value.profile.client != nil }
        self.identifiers = checked
        self.decoders = checked.mapValues { ProfileFrameDecoder(profile: $0.profile) }
        self.order = order.filter { checked[$0] != nil }
        self.clock = clock
        var s = State()
        for (name, id) in checked { s.checkers[name] = ConformanceChecker(profile: name, rules: id.profile.client!, settings: id.settings) }
        state = Mutex(s)
    }

    /// The profiles checked.
    public var profiles: [String] { order }

    private var now: Double { Self.seconds(clock.elapsed) }

    static func seconds(_ d: Duration) -> Double {
        let c = d.components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }

    private func observe(_ profile: String, _ o: Observation) {
        state.withLock { $0.checkers[profile]?.observe(o) }
    }

    public func opened(_ c: TappedConnection) async {
        guard let identifier = identifiers[c.profile] else { return }
        let t = now
        let client = await identifier.identify(path: c.path, query: c.query, headers: c.headers, peer: c.peer, now: clock.wallTime)
        state.withLock { s in
            s.connections[c.id] = (c.profile, nil)
            s.checkers[c.profile]?.observe(
                Observation(time: t, .upgrade(ObservedUpgrade(connection: c.id, client: client, path: c.path, query: c.query, headers: c.headers, status: 101))))
        }
    }

    public func frame(connection: Int, fromClient: Bool, _ frame: TappedFrame) async {
        let t = now
        state.withLock { s in
            guard let entry = s.connections[connection] else { return }
            let event: Observation.Event
            switch frame {
            case .close:
                if entry.closer == nil { s.connections[connection]?.closer = fromClient ? .client : .server }
                return
            case .text(let text):
                let value = try? Value(json: text)
                event = fromClient ? .clientMessage(connection: connection, size: text.utf8.count, value: value) : .serverMessage(connection: connection, value: value)
            case .binary(let bytes):
                let value = decoders[entry.profile]?.decode(binary: true, bytes)
                event = fromClient ? .clientMessage(connection: connection, size: bytes.count, value: value) : .serverMessage(connection: connection, value: value)
            }
            s.checkers[entry.profile]?.observe(Observation(time: t, event))
        }
    }

    public func closed(connection: Int, code: Int?, reason: String?) async {
        let t = now
        state.withLock { s in
            guard let entry = s.connections.removeValue(forKey: connection) else { return }
            s.checkers[entry.profile]?.observe(Observation(time: t, .closed(connection: connection, by: entry.closer ?? .lost, code: code)))
        }
    }

    public func refused(_ r: TappedRefusal) async {
        guard let name = r.profile, let identifier = identifiers[name] else { return }
        let t = now
        let client = await identifier.identify(path: r.path, query: r.query, headers: r.headers, peer: r.peer, now: clock.wallTime)
        observe(name, Observation(time: t, .upgrade(ObservedUpgrade(connection: nil, client: client, path: r.path, query: r.query, headers: r.headers, status: r.status))))
    }

    public func http(_ request: TappedHTTPRequest) async {
        guard let name = request.profile, let identifier = identifiers[name] else { return }
        let t = now
        let client = await identifier.identify(path: request.path, query: request.query, headers: request.headers, peer: request.peer, now: clock.wallTime)
        observe(name, Observation(time: t, .http(client: client, path: request.path, status: request.status)))
    }

    /// The report as of now: every checked profile's clients.
    public func report(source: String = "serve") -> ConformanceReport {
        let t = now
        let clients = state.withLock { s in order.flatMap { s.checkers[$0]?.results(at: t) ?? [] } }
        return ConformanceReport(source: source, duration: t, clients: clients)
    }
}
