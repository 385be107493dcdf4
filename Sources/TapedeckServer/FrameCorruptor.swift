import NIOCore

/// The `corrupt` fault: a message made unreadable while its frame stays valid.
///
/// A text message is cut in the middle, at a character boundary, so that it stays valid UTF-8 (the
/// client gets a text message) and a JSON object or array in it no longer parses. A binary message
/// read as varint-keyed tag-length-value fields is cut inside the field that holds its middle byte
/// (after the field's key, before its value ends), so a decoder of that framing meets a truncated
/// field; bytes that do not read that way are cut in the middle.
enum FrameCorruptor {
    /// The corrupted frame; closes and pongs are left as they are.
    static func corrupt(_ frame: OutboundFrame, allocator: ByteBufferAllocator) -> OutboundFrame {
        switch frame.item {
        case .text(let s): OutboundFrame(.text(cut(text: s)), allocator: allocator)
        case .binary(let b): OutboundFrame(.binary(Array(b[..<cut(binary: b)])), allocator: allocator)
        case .close, nil: frame
        }
    }

    /// The first half of `text`, cut at a character boundary.
    static func cut(text: String) -> String {
        let bytes = Array(text.utf8)
        var cut = bytes.count / 2
        while cut > 0 && bytes[cut] & 0xC0 == 0x80 { cut -= 1 }
        return String(decoding: bytes[..<cut], as: UTF8.self)
    }

    /// Where to cut `bytes`: inside the field that holds the middle byte.
    static func cut(binary bytes: [UInt8]) -> Int {
        let middle = (bytes.count - 1) / 2
        var i = 0
        while i < bytes.count {
            guard let (key, valueStart) = varint(bytes, at: i) else { break }
            let end: Int
            switch key & 7 {
            case 0:
                guard let (_, e) = varint(bytes, at: valueStart) else { return bytes.count / 2 }
                end = e
            case 1: end = valueStart + 8
            case 2:
                guard let (length, e) = varint(bytes, at: valueStart), length <= UInt64(bytes.count) else { return bytes.count / 2 }
                end = e + Int(length)
            case 5: end = valueStart + 4
            default: return bytes.count / 2
            }
            guard end <= bytes.count, end > valueStart else { return bytes.count / 2 }
            // Within the field's value: its key is there, its value is not whole.
            if end > middle { return valueStart + (end - valueStart) / 2 }
            i = end
        }
        return bytes.count / 2
    }

    /// A base-128 varint at `index`: its value and where it ends.
    private static func varint(_ bytes: [UInt8], at index: Int) -> (UInt64, Int)? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        var i = index
        while i < bytes.count, shift < 64 {
            let b = bytes[i]
            value |= UInt64(b & 0x7F) << shift
            i += 1
            if b & 0x80 == 0 { return (value, i) }
            shift += 7
        }
        return nil
    }
}
