import NIOCore

/// A server frame with its complete wire bytes (header and payload), encoded once.
///
/// Server frames are unmasked, so the bytes are the same for every recipient: an event bound for
/// many connections is one `OutboundFrame`, and each connection writes the same `ByteBuffer`
/// (its storage is shared, never copied).
struct OutboundFrame: Sendable {
    /// What the frame carries, for the tap (`serve --record`) and for tests; `nil` for a pong,
    /// which the tap does not see.
    let item: OutboundItem?
    /// The frame as it goes on the wire.
    let wire: ByteBuffer

    init(_ item: OutboundItem, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        self.item = item
        switch item {
        case .text(let s):
            wire = Self.encode(opcode: 0x1, payloadCount: s.utf8.count, allocator: allocator) { $0.writeString(s) }
        case .binary(let b):
            wire = Self.encode(opcode: 0x2, payloadCount: b.count, allocator: allocator) { $0.writeBytes(b) }
        case .close(let code, let reason):
            // A control frame's payload is at most 125 bytes: the code and as much of the reason
            // as fits, cut at a character boundary.
            var reasonBytes = Array(reason.utf8)
            if reasonBytes.count > 123 {
                var cut = 123
                while cut > 0 && reasonBytes[cut] & 0xC0 == 0x80 { cut -= 1 }
                reasonBytes = Array(reasonBytes[..<cut])
            }
            let code = UInt16(clamping: code)
            wire = Self.encode(opcode: 0x8, payloadCount: 2 + reasonBytes.count, allocator: allocator) {
                $0.writeInteger(code)
                $0.writeBytes(reasonBytes)
            }
        }
    }

    /// A pong answering a ping with `payload` (not recorded: the tap sees messages and closes).
    init(pong payload: ByteBuffer, allocator: ByteBufferAllocator) {
        var payload = payload
        item = nil
        wire = Self.encode(opcode: 0xA, payloadCount: payload.readableBytes, allocator: allocator) { $0.writeBuffer(&payload) }
    }

    /// The opcode of a text or binary frame (`nil` for control frames).
    var dataOpcode: UInt8? {
        switch item {
        case .text: 0x1
        case .binary: 0x2
        case .close, nil: nil
        }
    }

    /// The length of the frame's header on the wire.
    private var headerCount: Int {
        switch wire.getInteger(at: wire.readerIndex + 1, as: UInt8.self).map({ $0 & 0x7F }) {
        case 126: 4
        case 127: 10
        default: 2
        }
    }

    /// The payload's length.
    var payloadCount: Int { wire.readableBytes - headerCount }

    /// The payload (a view of ``wire``, not a copy).
    var payload: ByteBuffer { wire.getSlice(at: wire.readerIndex + headerCount, length: payloadCount) ?? ByteBuffer() }

    /// An unmasked, unfragmented frame: FIN, RSV1 (a compressed message), the opcode, the length, the payload.
    static func encode(
        opcode: UInt8, rsv1: Bool = false, payloadCount: Int, allocator: ByteBufferAllocator, payload: (inout ByteBuffer) -> Void
    ) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: payloadCount + 10)
        buffer.writeInteger(0x80 | (rsv1 ? 0x40 : 0) | opcode)
        if payloadCount < 126 {
            buffer.writeInteger(UInt8(payloadCount))
        } else if payloadCount <= Int(UInt16.max) {
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(payloadCount))
        } else {
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(payloadCount))
        }
        payload(&buffer)
        return buffer
    }
}
