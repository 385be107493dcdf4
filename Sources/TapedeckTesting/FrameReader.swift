import Foundation
import NIOCore

/// Parses what a server sends to a client: the HTTP answer to the upgrade, then WebSocket frames
/// (fragments joined, pings and closes reported).
struct FrameReader: Sendable {
    enum Event: Sendable {
        case head(status: Int, body: String)
        case text(String)
        case binary([UInt8])
        case ping([UInt8])
        case close(Int?)
    }

    private var buffer: [UInt8] = []
    private var headDone = false
    private var refusedStatus: Int?
    private var refusedBodyStart = 0
    private var refusedLength: Int?
    private var fragments: [UInt8] = []
    private var fragmentOpcode: UInt8 = 0
    /// Whether nothing more is expected (a close frame, or a refused upgrade's complete body).
    private(set) var finished = false
    /// Bytes of WebSocket frames read so far (after the upgrade's answer).
    private(set) var frameBytes = 0

    mutating func feed(_ bytes: [UInt8]) -> [Event] {
        buffer += bytes
        var events: [Event] = []
        if !headDone {
            if let status = refusedStatus {
                if let length = refusedLength, buffer.count - refusedBodyStart >= length {
                    events.append(.head(status: status, body: String(decoding: buffer[refusedBodyStart..<refusedBodyStart + length], as: UTF8.self)))
                    headDone = true
                    finished = true
                }
                return events
            }
            guard let end = Self.headEnd(buffer) else { return events }
            let head = String(decoding: buffer[..<end], as: UTF8.self)
            let lines = head.split(separator: "\r\n")
            let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
            if status == 101 {
                headDone = true
                buffer.removeFirst(end + 4)
                events.append(.head(status: 101, body: ""))
            } else {
                refusedStatus = status
                refusedBodyStart = end + 4
                refusedLength = lines.first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }
                return feed([])
            }
        }
        while let (event, used) = nextFrame() {
            buffer.removeFirst(used)
            frameBytes += used
            if let event { events.append(event) }
            if case .close? = event { finished = true; break }
        }
        return events
    }

    /// A refused upgrade whose body ended with the connection (no Content-Length).
    mutating func pendingRefusal() -> Event? {
        guard !headDone, let status = refusedStatus else { return nil }
        headDone = true
        return .head(status: status, body: String(decoding: buffer[min(refusedBodyStart, buffer.count)...], as: UTF8.self))
    }

    private mutating func nextFrame() -> (Event?, Int)? {
        guard buffer.count >= 2 else { return nil }
        let fin = buffer[0] & 0x80 != 0
        let opcode = buffer[0] & 0x0F
        let masked = buffer[1] & 0x80 != 0
        var length = Int(buffer[1] & 0x7F)
        var i = 2
        if length == 126 {
            guard buffer.count >= 4 else { return nil }
            length = Int(buffer[2]) << 8 | Int(buffer[3])
            i = 4
        } else if length == 127 {
            guard buffer.count >= 10 else { return nil }
            length = buffer[2..<10].reduce(0) { $0 << 8 | Int($1) }
            i = 10
        }
        var mask: [UInt8] = []
        if masked {
            guard buffer.count >= i + 4 else { return nil }
            mask = Array(buffer[i..<i + 4])
            i += 4
        }
        guard buffer.count >= i + length else { return nil }
        var payload = Array(buffer[i..<i + length])
        if masked { for k in payload.indices { payload[k] ^= mask[k % 4] } }
        let used = i + length
        switch opcode {
        case 0x0:
            fragments += payload
            guard fin else { return (nil, used) }
            let whole = fragments
            fragments = []
            return (fragmentOpcode == 0x1 ? .text(String(decoding: whole, as: UTF8.self)) : .binary(whole), used)
        case 0x1, 0x2:
            guard fin else {
                fragmentOpcode = opcode
                fragments = payload
                return (nil, used)
            }
            return (opcode == 0x1 ? .text(String(decoding: payload, as: UTF8.self)) : .binary(payload), used)
        case 0x8:
            return (.close(payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : nil), used)
        case 0x9:
            return (.ping(payload), used)
        default:
            return (nil, used)
        }
    }

    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for k in 0...(bytes.count - 4) where bytes[k] == 13 && bytes[k + 1] == 10 && bytes[k + 2] == 13 && bytes[k + 3] == 10 { return k }
        return nil
    }

    /// A masked client frame.
    static func frame(opcode: UInt8, payload: [UInt8]) -> ByteBuffer {
        var out: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            out.append(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            out += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            out.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((payload.count >> shift) & 0xFF)) }
        }
        let mask: [UInt8] = (0..<4).map { _ in UInt8.random(in: 0...255) }
        out += mask
        for (k, b) in payload.enumerated() { out.append(b ^ mask[k % 4]) }
        return ByteBuffer(bytes: out)
    }
}
