import Logging
import Synchronization
import TapedeckRecording
import TapedeckServer

/// Taps the simulator's connections into a recording (`tapedeck serve --record`).
final class SimulatorRecorder: SimulatorTap {
    let writer: RecordingWriter
    let logger: Logger
    private let ids = Mutex<[Int: ConnectionID]>([:])
    /// The close each connection's client sent, for the connection's close columns.
    private let clientCloses = Mutex<[Int: (code: Int, reason: String)]>([:])

    init(writer: RecordingWriter, logger: Logger) {
        self.writer = writer
        self.logger = logger
    }

    func opened(_ c: TappedConnection) async {
        let info = ConnectionInfo(
            path: c.path, query: c.query, requestHeaders: c.headers.map { HeaderField($0.name, $0.value) }, upgradeStatus: 101,
            peer: c.peer)
        do {
            let id = try await writer.beginConnection(info)
            ids.withLock { $0[c.id] = id }
        } catch {
            logger.error("recording: cannot record connection \(c.id): \(error)")
        }
    }

    func frame(connection: Int, fromClient: Bool, _ frame: TappedFrame) async {
        guard let id = ids.withLock({ $0[connection] }) else { return }
        let (opcode, payload): (FrameOpcode, [UInt8]) =
            switch frame {
            case .text(let s): (.text, Array(s.utf8))
            case .binary(let b): (.binary, b)
            case .close(let code, let reason): (.close, [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8))
            }
        if fromClient, case .close(let code, let reason) = frame { clientCloses.withLock { $0[connection] = (code, reason) } }
        do {
            try await writer.append(RecordedFrame(connection: id, direction: fromClient ? .clientToServer : .serverToClient, opcode: opcode, payload: payload))
        } catch {
            logger.error("recording: frame of connection \(connection) lost: \(error)")
        }
    }

    func closed(connection: Int, code: Int?, reason: String?) async {
        guard let id = ids.withLock({ $0.removeValue(forKey: connection) }) else { return }
        let client = clientCloses.withLock { $0.removeValue(forKey: connection) }
        do {
            try await writer.endConnection(
                id, close: ConnectionClose(clientCode: client?.code, clientReason: client?.reason, serverCode: code, serverReason: reason))
        } catch {
            logger.error("recording: cannot close connection \(connection): \(error)")
        }
    }

    func refused(_ r: TappedRefusal) async {
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
