public import Logging
import Synchronization
import TapedeckCore
public import TapedeckProtocol
public import TapedeckRecording
public import TapedeckServer

/// Taps the simulator's connections into a recording: `tapedeck serve --record`, and the golden
/// recordings of `tapedeck test --golden`.
///
/// Several recorders may share one writer (one per in-process simulator of a test run); each keeps
/// its own map of the simulator's connection numbers to the recording's connection ids.
public final class SimulatorRecorder: SimulatorTap {
    public let writer: RecordingWriter
    let logger: Logger
    private let ids = Mutex<[Int: ConnectionID]>([:])
    /// Each connection's profile codec, so that binary (protobuf) frames are stored with their decoded value.
    private let decoders = Mutex<[Int: ProfileFrameDecoder]>([:])
    private let profiles: [String: Profile]
    /// The close each connection's client sent, for the connection's close columns.
    private let clientCloses = Mutex<[Int: (code: Int, reason: String)]>([:])
    /// Told of each frame the writer accepted (for the server's metrics).
    private let onFrame: (@Sendable () -> Void)?

    /// - Parameter profiles: the served profiles by name; a connection's frames decode through its profile's codec.
    /// - Parameter onFrame: called for each frame the writer accepted.
    public init(writer: RecordingWriter, logger: Logger, profiles: [String: Profile] = [:], onFrame: (@Sendable () -> Void)? = nil) {
        self.onFrame = onFrame
        self.writer = writer
        self.logger = logger
        self.profiles = profiles
    }

    public func opened(_ c: TappedConnection) async {
        let info = ConnectionInfo(
            path: c.path, query: c.query, requestHeaders: c.headers.map { HeaderField($0.name, $0.value) }, subprotocol: c.subprotocol, extensions: c.extensions,
            upgradeStatus: 101, peer: c.peer)
        do {
            let id = try await writer.beginConnection(info)
            ids.withLock { $0[c.id] = id }
            let decoder = profiles[c.profile].map { ProfileFrameDecoder(profile: $0) } ?? ProfileFrameDecoder(profiles: c.profile)
            if decoder.decodesBinary { decoders.withLock { $0[c.id] = decoder } }
        } catch {
            logger.error("recording: cannot record connection \(c.id): \(error)")
        }
    }

    public func frame(connection: Int, fromClient: Bool, _ frame: TappedFrame) async {
        guard let id = ids.withLock({ $0[connection] }) else { return }
        let (opcode, payload): (FrameOpcode, [UInt8]) =
            switch frame {
            case .text(let s): (.text, Array(s.utf8))
            case .binary(let b): (.binary, b)
            case .close(let code, let reason): (.close, [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8))
            }
        // JSON text is decoded by the writer; binary frames need the connection's profile codec.
        let decoded: Value? = opcode == .binary ? decoders.withLock({ $0[connection] })?.decode(binary: true, payload) : Optional<Value>.none
        if fromClient, case .close(let code, let reason) = frame { clientCloses.withLock { $0[connection] = (code, reason) } }
        do {
            try await writer.append(
                RecordedFrame(
                    connection: id, direction: fromClient ? .clientToServer : .serverToClient, opcode: opcode, payload: payload,
                    decoded: decoded))
            onFrame?()
        } catch {
            logger.error("recording: frame of connection \(connection) lost: \(error)")
        }
    }

    public func closed(connection: Int, code: Int?, reason: String?) async {
        guard let id = ids.withLock({ $0.removeValue(forKey: connection) }) else { return }
        decoders.withLock { $0[connection] = nil }
        let client = clientCloses.withLock { $0.removeValue(forKey: connection) }
        do {
            try await writer.endConnection(
                id, close: ConnectionClose(clientCode: client?.code, clientReason: client?.reason, serverCode: code, serverReason: reason))
        } catch {
            logger.error("recording: cannot close connection \(connection): \(error)")
        }
    }

    public func refused(_ r: TappedRefusal) async {
        let info = ConnectionInfo(
            path: r.path, query: r.query, requestHeaders: r.headers.map { HeaderField($0.name, $0.value) }, upgradeStatus: r.status,
            responseHeaders: r.responseHeaders.map { HeaderField($0.name, $0.value) }, responseBody: r.body, peer: r.peer)
        do {
            let id = try await writer.beginConnection(info)
            try await writer.endConnection(id, close: ConnectionClose())
        } catch {
            logger.error("recording: cannot record a refused upgrade: \(error)")
        }
    }
}
