import TapedeckCore
import TapedeckProtocol
public import TapedeckRecording

/// Turns a recording into the observations a ``ConformanceChecker`` takes (`tapedeck conformance`):
/// each connection's upgrade (accepted or refused), its whole messages both ways, and its end, in
/// time order.
///
/// Times are the recording's offsets, multiplied by `clockRate` (a recording made by
/// `serve --clock-rate N --record` holds real time; N gives back simulation time).
public struct RecordingObservations: Sendable {
    public let reader: RecordingReader
    public let identifier: ClientIdentifier
    public let clockRate: Double

    public init(reader: RecordingReader, identifier: ClientIdentifier, clockRate: Double = 1) {
        self.reader = reader
        self.identifier = identifier
        self.clockRate = clockRate
    }

    /// The connections to the profile's endpoints, as observations sorted by time; `endpointsSeen`
    /// counts the connections that matched the profile.
    public func observations() async throws -> (observations: [Observation], connections: Int, duration: Double) {
        let profile = identifier.profile
        let paths = Set(profile.endpoints.map(\.path))
        let decoder = ProfileFrameDecoder(profile: profile)
        let recording = try reader.recording()
        var out: [(order: Int, o: Observation)] = []
        var counter = 0
        func add(_ time: Double, _ e: Observation.Event) {
            counter += 1
            out.append((counter, Observation(time: time, e)))
        }
        let wallStart = Double(recording.startedAtNanos) / 1e9
        var latest = 0.0
        var matched = 0
        for c in try reader.connections() where paths.contains(c.info.path) {
            matched += 1
            let id = Int(c.id.rawValue)
            let opened = seconds(c.info.openedAt?.offsetNanos ?? 0)
            let headers = c.info.requestHeaders.map { (name: $0.name, value: $0.value) }
            let wall = c.info.openedAt.map { Double($0.wallNanos) / 1e9 } ?? wallStart
            let client = await identifier.identify(path: c.info.path, query: c.info.query, headers: headers, peer: c.info.peer, now: wall)
            let status = c.info.upgradeStatus ?? 101
            add(opened, .upgrade(ObservedUpgrade(connection: status == 101 ? id : nil, client: client, path: c.info.path, query: c.info.query, headers: headers, status: status)))
            guard status == 101 else { continue }
            var closer: CloseInitiator?
            var partial: (fromClient: Bool, binary: Bool, bytes: [UInt8])?
            var last = opened
            try reader.forEachFrame(connection: c.id) { stored in
                let f = stored.frame
                let time = seconds(f.timestamp?.offsetNanos ?? 0)
                last = Swift.max(last, time)
                let fromClient = f.direction == .clientToServer
                switch f.opcode {
                case .close:
                    if closer == nil { closer = fromClient ? .client : .server }
                    return
                case .ping, .pong: return
                case .text, .binary:
                    partial = (fromClient, f.opcode == .binary, f.payload)
                case .continuation:
                    partial?.bytes += f.payload
                }
                guard f.fin, let message = partial else { return }
                partial = nil
                let value: Value? =
                    f.opcode != .continuation ? (f.decoded ?? decoder.decode(binary: message.binary, message.bytes)) : decoder.decode(binary: message.binary, message.bytes)
                add(
                    time,
                    message.fromClient
                        ? .clientMessage(connection: id, size: message.bytes.count, value: value) : .serverMessage(connection: id, value: value))
            }
            let closed = c.close.closedAt.map { seconds($0.offsetNanos) } ?? last
            latest = Swift.max(latest, closed)
            let code = closer == .client ? c.close.clientCode : c.close.serverCode
            add(closed, .closed(connection: id, by: closer ?? .lost, code: code ?? c.close.serverCode))
        }
        let sorted = out.sorted { ($0.o.time, $0.order) < ($1.o.time, $1.order) }.map(\.o)
        let end = recording.finishedAtNanos.map { Double($0) / 1e9 - wallStart }.map { $0 * clockRate } ?? latest
        return (sorted, matched, Swift.max(end, latest))
    }

    func seconds(_ nanos: Int64) -> Double { Double(nanos) / 1e9 * clockRate }
}
