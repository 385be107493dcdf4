import NIOCore
import Synchronization

/// Watches the bytes a client sends after the upgrade for its close frame, which
/// hummingbird-websocket answers by itself and does not hand to the connection: the recording
/// (`serve --record`) needs the client's close code and reason.
///
/// It sits first in the pipeline and passes every byte on unchanged. It keeps only the header of
/// the frame being read and the payload of a close frame (at most 125 bytes).
final class ClientCloseObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// What the observer saw; read from the connection's task.
    final class Seen: Sendable {
        private let close = Mutex<(code: Int, reason: String)?>(nil)
        /// The client's close: its code (1005 when it had none) and reason.
        var value: (code: Int, reason: String)? { close.withLock { $0 } }
        func set(_ code: Int, _ reason: String) { close.withLock { if $0 == nil { $0 = (code, reason) } } }
    }

    let seen: Seen
    private var header: [UInt8] = []
    private var skipping = 0
    private var closePayload: [UInt8]?
    private var closeLength = 0
    private var mask: [UInt8] = []

    init(seen: Seen) {
        self.seen = seen
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        consume(buffer.readableBytesView)
        context.fireChannelRead(data)
    }

    private func consume(_ bytes: ByteBufferView) {
        var i = bytes.startIndex
        while i < bytes.endIndex {
            if skipping > 0 {
                let n = min(skipping, bytes.endIndex - i)
                skipping -= n
                i += n
                continue
            }
            if closePayload != nil {
                let n = min(closeLength - closePayload!.count, bytes.endIndex - i)
                closePayload!.append(contentsOf: bytes[i..<(i + n)])
                i += n
                if closePayload!.count == closeLength { finishClose() }
                continue
            }
            header.append(bytes[i])
            i += 1
            parseHeader()
        }
    }

    /// Once the header is complete: skip the payload, or collect it if it is a close frame.
    private func parseHeader() {
        guard header.count >= 2 else { return }
        let masked = header[1] & 0x80 != 0
        var length = Int(header[1] & 0x7F)
        var size = 2
        if length == 126 { size += 2 } else if length == 127 { size += 8 }
        if masked { size += 4 }
        guard header.count >= size else { return }
        if length == 126 {
            length = Int(header[2]) << 8 | Int(header[3])
        } else if length == 127 {
            length = header[2..<10].reduce(0) { ($0 << 8) | Int($1) }
        }
        let opcode = header[0] & 0x0F
        mask = masked ? Array(header[(size - 4)..<size]) : []
        header = []
        if opcode == 0x8 && length <= 125 {
            closePayload = []
            closeLength = length
            if length == 0 { finishClose() }
        } else {
            skipping = max(0, length)
        }
    }

    private func finishClose() {
        var payload = closePayload ?? []
        closePayload = nil
        if !mask.isEmpty { for j in payload.indices { payload[j] ^= mask[j % 4] } }
        if payload.count >= 2 {
            seen.set(Int(payload[0]) << 8 | Int(payload[1]), String(decoding: payload[2...], as: UTF8.self))
        } else {
            seen.set(1005, "")
        }
    }
}
