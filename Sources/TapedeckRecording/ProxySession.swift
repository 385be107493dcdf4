import TapedeckCore
import Logging
import NIOCore
import NIOWebSocket
import TapedeckCompression

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
    /// Whether the 101 agreed an extension the recorder does not know (which may use the reserved bits).
    var extensionsNegotiated = false
    /// permessage-deflate as the upstream's 101 agreed it (both legs agree the same): messages are
    /// relayed as they are and recorded decompressed.
    private(set) var compression: DeflateAgreement?
    private var inflaters: [Side: MessageInflater] = [:]
    /// Per side: the opcode and compressed payload of the compressed message in progress.
    private var compressedMessage: [Side: (opcode: FrameOpcode, payload: ByteBuffer)] = [:]
    /// Per side: bytes of the message in progress, or `nil` between messages.
    private var messageBytes: [Side: Int] = [:]
    /// A client fault being answered: the close the client gets once the upstream has sent what
    /// it owed for the client's earlier frames (its close reply).
    private var pendingClientClose: UInt16?

    init(id: ConnectionID, writer: RecordingWriter, proxy: RecordingProxy, eventLoop: any EventLoop) {
        self.id = id
        self.writer = writer
        self.proxy = proxy
        self.eventLoop = eventLoop
    }

    /// Reads the extensions of the upstream's 101 (`nil`: none).
    func agreeCompression(_ extensions: [ExtensionOffer]?) throws {
        guard let extensions, !extensions.isEmpty else { return }
        guard let agreement = DeflateAgreement(response: extensions) else {
            extensionsNegotiated = true
            return
        }
        compression = agreement
        inflaters = [.client: try MessageInflater(), .upstream: try MessageInflater()]
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
        if let code = pendingClientClose {
            // After a client fault: the upstream's answers to earlier frames still reach the
            // client, in order; its close reply ends it with the fault's close.
            guard side == .upstream else { return }
            if frame.opcode == .connectionClose {
                finishClientFault(code: code)
                return
            }
            relay(frame, from: side)
            return
        }
        guard !stopping else { return }
        if let (code, why) = fault(in: frame, from: side) {
            protocolFault(from: side, code: code, why: why)
            return
        }
        relay(frame, from: side)
    }

    /// Relays `frame` to the other side and records it once written.
    private func relay(_ frame: WebSocketFrame, from side: Side) {
        // Reserved opcodes were refused by `fault(in:from:)` before relaying.
        let opcode = FrameOpcode(frame.opcode) ?? .binary
        guard proxy.admitFrame() else {
            proxy.limitReached()
            return
        }
        let data = frame.unmaskedData
        var recordedOpcode = opcode
        var recordedFin = frame.fin
        var payload: [UInt8]
        if let inflater = inflaters[side], frame.rsv1 || (opcode == .continuation && compressedMessage[side] != nil) {
            // A compressed message: relayed frame by frame as it is, recorded once, decompressed.
            var message = compressedMessage[side] ?? (opcode, ByteBuffer())
            message.payload.writeImmutableBuffer(data)
            guard frame.fin else {
                compressedMessage[side] = message
                forward(frame, data: data, from: side, recording: nil)
                return
            }
            compressedMessage[side] = nil
            let limit = proxy.configuration.maxMessageSize
            do {
                payload = Array(try inflater.decompress(message.payload, limit: limit, allocator: ByteBufferAllocator()).readableBytesView)
            } catch {
                let who = side == .client ? "the client" : "the upstream"
                switch error {
                case .tooLarge: protocolFault(from: side, code: 1009, why: "\(who) sent a compressed message that inflates to more than \(limit) bytes (the limit, --max-message-size)")
                case .corrupt: protocolFault(from: side, code: 1007, why: "\(who) sent a compressed message that does not inflate")
                }
                return
            }
            recordedOpcode = message.opcode
            recordedFin = true
        } else {
            payload = Array(data.readableBytesView)
        }
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
        let recorded = RecordedFrame(connection: id, direction: direction, opcode: recordedOpcode, fin: recordedFin, payload: payload)
        forward(frame, data: data, from: side, recording: recorded)
    }

    /// Writes `frame` (its payload `data`) to the other side; records `recording` once written
    /// (writes complete in order, so the recording keeps each direction's order).
    private func forward(_ frame: WebSocketFrame, data: ByteBuffer, from side: Side, recording: RecordedFrame?) {
        guard let target = channel(Self.other(side)) else { return }
        // Frames to the upstream are masked as the client masked them (unmasked ones were refused by
        // `fault(in:from:)`); frames to the client are not.
        let maskKey: WebSocketMaskingKey? = side == .client ? frame.maskKey : nil
        let out = WebSocketFrame(
            fin: frame.fin, rsv1: frame.rsv1, rsv2: frame.rsv2, rsv3: frame.rsv3, opcode: frame.opcode,
            maskKey: maskKey, data: data)
        guard let recording else {
            target.write(out, promise: nil)
            return
        }
        let written = eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenSuccess { self.record(recording) }
        target.write(out, promise: written)
    }

    /// What a server (or, for the upstream's frames, a client) would refuse in `frame`: RFC 6455's
    /// masking, reserved bits, opcodes, fragmentation and close payload rules, and the size limits.
    private func fault(in frame: WebSocketFrame, from side: Side) -> (code: UInt16, why: String)? {
        let who = side == .client ? "the client" : "the upstream"
        if side == .client && frame.maskKey == nil { return (1002, "\(who) sent an unmasked frame") }
        if side == .upstream && frame.maskKey != nil { return (1002, "\(who) sent a masked frame") }
        if compression != nil {
            if frame.rsv2 || frame.rsv3 { return (1002, "\(who) set RSV2 or RSV3; only permessage-deflate (RSV1) was agreed") }
            if frame.rsv1 && frame.opcode != .text && frame.opcode != .binary {
                return (1002, "\(who) set RSV1 on a frame that does not begin a message")
            }
        } else if (frame.rsv1 || frame.rsv2 || frame.rsv3) && !extensionsNegotiated {
            return (1002, "\(who) set a reserved bit with no extension agreed")
        }
        switch frame.opcode {
        case .text, .binary:
            if messageBytes[side] != nil { return (1002, "\(who) began a message inside an unfinished one") }
            return size(frame, from: side, who: who)
        case .continuation:
            if messageBytes[side] == nil { return (1002, "\(who) sent a continuation frame outside a message") }
            return size(frame, from: side, who: who)
        case .connectionClose:
            let n = frame.length
            if n == 1 { return (1002, "\(who) sent a close frame with a 1-byte payload") }
            if n >= 2 {
                var data = frame.unmaskedData
                let code = Int(data.readInteger(as: UInt16.self) ?? 0)
                if !CloseCode.mayBeSent(code) { return (1002, "\(who) sent close code \(code), which is not allowed on the wire") }
                if String(validating: data.readableBytesView, as: UTF8.self) == nil { return (1007, "\(who) sent a close reason that is not UTF-8") }
            }
            return nil
        case .ping, .pong:
            return nil
        default:
            return (1002, "\(who) sent a frame with the reserved opcode \(frame.opcode)")
        }
    }

    /// Counts a data frame against the message size limit; tracks where messages begin and end.
    private func size(_ frame: WebSocketFrame, from side: Side, who: String) -> (code: UInt16, why: String)? {
        let total = (messageBytes[side] ?? 0) + frame.length
        let limit = proxy.configuration.maxMessageSize
        if total > limit { return (1009, "\(who) sent a message of more than \(limit) bytes (the limit, --max-message-size)") }
        messageBytes[side] = frame.fin ? nil : total
        return nil
    }

    /// Ends the connection over a protocol fault or a limit in what `side` sent: that side gets a
    /// close with `code`, as the other end would have answered, the other side 1001; the reason is
    /// recorded as the connection's error.
    ///
    /// A server handles frames in order, so a client fault is answered after what the upstream
    /// sends for the client's earlier frames: for a short grace the upstream's frames are still
    /// relayed (and recorded), then the client gets its close and the upstream 1001. A fault of the
    /// upstream is answered at once.
    func protocolFault(from side: Side, code: UInt16, why: String) {
        guard !stopping else { return }
        stopping = true
        let other = Self.other(side)
        close.error = "\(why): the recorder closed \(side == .client ? "the client" : "the upstream") with \(code)"
        proxy.logger.info("connection \(id): \(close.error!)")
        if side == .client, let upstream, upstream.isActive {
            pendingClientClose = code
            let bound = NIOLoopBound(self, eventLoop: eventLoop)
            eventLoop.scheduleTask(in: Self.faultGrace) { bound.value.finishClientFault(code: code) }
            return
        }
        closeWith(side, code: code, reason: "")
        closeWith(other, code: 1001, reason: "peer closed with \(code)")
    }

    /// How long the upstream's answers to a faulty client's earlier frames are still relayed.
    static let faultGrace = TimeAmount.milliseconds(200)

    /// Sends the client the close of its fault (once), the upstream 1001, and closes both sockets.
    private func finishClientFault(code: UInt16) {
        guard pendingClientClose != nil else { return }
        pendingClientClose = nil
        closeWith(.client, code: code, reason: "")
        closeWith(.upstream, code: 1001, reason: "peer closed with \(code)")
    }

    /// The frame decoder refused what `side` sent; WebSocketProtocolErrorHandler has answered it.
    func decoderRefused(_ error: NIOWebSocketError, from side: Side) {
        guard !stopping else { return }
        stopping = true
        // As WebSocketProtocolErrorHandler answers: 1009 for a frame over the limit, else 1002.
        let number: Int = if case .invalidFrameLength = error { 1009 } else { 1002 }
        let who = side == .client ? "the client" : "the upstream"
        let what: String = switch error {
        case .invalidFrameLength: "\(who) sent a frame of more than \(proxy.configuration.maxFrameSize) bytes (the limit, --max-frame-size)"
        case .fragmentedControlFrame: "\(who) sent a fragmented control frame"
        case .multiByteControlFrameLength: "\(who) sent a control frame longer than 125 bytes"
        }
        close.error = "\(what): the recorder closed \(who) with \(number)"
        proxy.logger.info("connection \(id): \(close.error!)")
        // Once the offender has its close (written by the next handler, now).
        let other = Self.other(side)
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.execute { bound.value.closeWith(other, code: 1001, reason: "peer closed with \(number)") }
    }

    /// Sends a close frame to `side` and closes its socket once it is written.
    private func closeWith(_ side: Side, code: UInt16, reason: String) {
        guard let channel = channel(side), channel.isActive else { return }
        var data = channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.writeInteger(code)
        data.writeString(reason)
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: side == .upstream ? .random() : nil, data: data)
        channel.writeAndFlush(frame).whenComplete { _ in channel.close(promise: nil) }
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
        if side == .upstream, let code = pendingClientClose { finishClientFault(code: code) }
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

    /// Ends a session that could not be set up (its client left while the upstream answered):
    /// both sockets close and the connection's end is recorded now, since a relay that was never
    /// in place would not report its side's close, and ``RecordingProxy/stop()`` waits for every
    /// session to end.
    func abandon() {
        closeBoth()
        endRecording()
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
