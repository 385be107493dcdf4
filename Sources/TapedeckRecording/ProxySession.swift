import Logging
import NIOCore
import NIOWebSocket

/// One proxied WebSocket connection after the upgrade: both channels, the recording state and read gating.
/// Confined to the event loop both channels share.
final class ProxySession {
    enum Side { case client, upstream }

    let id: ConnectionID
    let writer: RecordingWriter
    let proxy: RecordingProxy
    let eventLoop: any EventLoop
    var client: (any Channel)?
    var upstream: (any Channel)?
    var clientRelay: ProxyRelayHandler?
    var upstreamRelay: ProxyRelayHandler?
    var close = ConnectionClose()
    var recorderPaused = false
    var closedSides = 0
    var closed: Set<Side> = []
    var ended = false
    var stopping = false

    init(id: ConnectionID, writer: RecordingWriter, proxy: RecordingProxy, eventLoop: any EventLoop) {
        self.id = id
        self.writer = writer
        self.proxy = proxy
        self.eventLoop = eventLoop
    }

    func channel(_ side: Side) -> (any Channel)? { side == .client ? client : upstream }
    func relay(_ side: Side) -> ProxyRelayHandler? { side == .client ? clientRelay : upstreamRelay }
    static func other(_ side: Side) -> Side { side == .client ? .upstream : .client }

    /// Whether the handler on `side` may read more: the recorder has room and the other side accepts writes.
    func mayRead(_ side: Side) -> Bool {
        if recorderPaused { return false }
        guard let peer = channel(Self.other(side)) else { return true }
        return peer.isWritable || !peer.isActive
    }

    func readGatesChanged() {
        clientRelay?.resumeIfAllowed()
        upstreamRelay?.resumeIfAllowed()
    }

    /// Handles a frame read from `side`: relay it unchanged to the other side, and record it once written.
    func received(_ frame: WebSocketFrame, from side: Side) {
        guard !stopping else { return }
        let opcode: FrameOpcode
        switch frame.opcode {
        case .text: opcode = .text
        case .binary: opcode = .binary
        case .continuation: opcode = .continuation
        case .ping: opcode = .ping
        case .pong: opcode = .pong
        case .connectionClose: opcode = .close
        default: opcode = .binary
        }
        guard proxy.admitFrame() else {
            proxy.limitReached()
            return
        }
        let data = frame.unmaskedData
        let payload = Array(data.readableBytesView)
        let direction: FrameDirection = side == .client ? .clientToServer : .serverToClient
        if opcode == .close {
            let (code, reason) = ConnectionClose.parseClosePayload(payload)
            if side == .client {
                close.clientCode = code ?? 1005
                close.clientReason = reason
            } else {
                close.serverCode = code ?? 1005
                close.serverReason = reason
            }
        }
        guard let target = channel(Self.other(side)) else { return }
        // Frames to the upstream are masked as the client masked them; frames to the client are not.
        let maskKey: WebSocketMaskingKey? = side == .client ? (frame.maskKey ?? .random()) : nil
        let out = WebSocketFrame(
            fin: frame.fin, rsv1: frame.rsv1, rsv2: frame.rsv2, rsv3: frame.rsv3, opcode: frame.opcode,
            maskKey: maskKey, data: data)
        // A frame is recorded as relayed once it has been written to the other side (writes
        // complete in order, so the recording keeps each direction's order).
        let recorded = RecordedFrame(connection: id, direction: direction, opcode: opcode, fin: frame.fin, payload: payload)
        let written = eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenSuccess { self.record(recorded) }
        target.write(out, promise: written)
    }

    /// Queues a relayed frame for the recording; pauses reading while the writer's queue is full.
    private func record(_ frame: RecordedFrame) {
        guard !ended else { return }
        do {
            let full = try writer.enqueue(frame)
            if full && !recorderPaused {
                recorderPaused = true
                let loop = eventLoop
                let bound = NIOLoopBound(self, eventLoop: loop)
                writer.whenSpaceAvailable {
                    loop.execute {
                        bound.value.recorderPaused = false
                        bound.value.readGatesChanged()
                    }
                }
            }
        } catch {
            proxy.logger.error("recording failed, closing connection \(id): \(error)")
            proxy.recordingFailed()
            closeBoth()
        }
    }

    func readComplete(from side: Side) {
        channel(Self.other(side))?.flush()
    }

    func sideClosed(_ side: Side) {
        guard closed.insert(side).inserted else { return }
        closedSides += 1
        if let other = channel(Self.other(side)), other.isActive {
            other.close(promise: nil)
        }
        if closedSides >= 2 { endRecording() }
        readGatesChanged()
    }

    func endRecording() {
        guard !ended else { return }
        ended = true
        do {
            try writer.endConnectionNow(id, close: close)
        } catch {
            proxy.logger.error("could not record the end of connection \(id): \(error)")
        }
        proxy.sessionEnded(self)
    }

    func closeBoth() {
        client?.close(promise: nil)
        upstream?.close(promise: nil)
    }

    /// Stops the session: a 1001 close to both sides (not recorded), then the sockets close.
    func stop() {
        guard !stopping else { return }
        stopping = true
        var reason = ByteBuffer()
        reason.writeInteger(UInt16(1001))
        reason.writeString("tapedeck recording stopped")
        let toClient = WebSocketFrame(fin: true, opcode: .connectionClose, data: reason)
        let toUpstream = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: reason)
        let c = client
        let u = upstream
        let closeC = c?.writeAndFlush(toClient) ?? eventLoop.makeSucceededVoidFuture()
        let closeU = u?.writeAndFlush(toUpstream) ?? eventLoop.makeSucceededVoidFuture()
        closeC.and(closeU).whenComplete { _ in
            c?.close(promise: nil)
            u?.close(promise: nil)
        }
    }
}
