import Foundation
import NIOCore
import NIOPosix
import Testing
import TapedeckCore
import TapedeckServer

/// RFC 6455 at the socket: what the simulator answers to frames a client library would never send.
@Suite("WebSocket protocol")
struct WebSocketProtocolTests {
    /// A client frame: FIN, the opcode, masked with `mask` (RFC 6455 5.3) unless `masked` is false.
    static func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, masked: Bool = true, rsv: UInt8 = 0) -> [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | rsv | opcode]
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        let m: UInt8 = masked ? 0x80 : 0
        if payload.count < 126 {
            out.append(m | UInt8(payload.count))
        } else {
            out += [m | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        if masked {
            out += mask
            out += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        } else {
            out += payload
        }
        return out
    }

    static func code(_ frames: [(opcode: UInt8, payload: [UInt8])]) -> Int? {
        guard let close = frames.last(where: { $0.opcode == 8 }), close.payload.count >= 2 else { return nil }
        return Int(close.payload[0]) << 8 | Int(close.payload[1])
    }

    static let path = "/api/ws"

    @Test func protocolErrorsCloseWithTheirCodes() async throws {
        try await withSimulator(scenario: OpsControlCenterServerTests.scenario) { port in
            let jwt = try await token(["sub": "qa"])
            let ping = Array(#"{"action":"ping"}"#.utf8)
            func run(_ frames: [[UInt8]]) async throws -> [(opcode: UInt8, payload: [UInt8])] {
                try await Self.exchangeWithCookie(port: port, jwt: jwt, frames: frames)
            }
            // An unmasked client frame, reserved bits, an unknown opcode: 1002.
            #expect(Self.code(try await run([Self.frame(0x1, ping, masked: false)])) == 1002)
            #expect(Self.code(try await run([Self.frame(0x1, ping, rsv: 0x40)])) == 1002)
            #expect(Self.code(try await run([Self.frame(0x3, ping)])) == 1002)
            // A continuation without a message, a fragmented ping: 1002.
            #expect(Self.code(try await run([Self.frame(0x0, ping)])) == 1002)
            #expect(Self.code(try await run([Self.frame(0x9, [1], fin: false)])) == 1002)
            // A frame over the largest message (1 MiB by default): 1009, as soon as its header arrives.
            let huge: [UInt8] = [0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0x20, 0, 0, 1, 2, 3, 4]
            #expect(Self.code(try await run([huge])) == 1009)
            // Text that is not UTF-8: 1007.
            #expect(Self.code(try await run([Self.frame(0x1, [0x22, 0xC3, 0x28, 0x22])])) == 1007)
        }
    }

    @Test func fragmentsPingAndTheCloseHandshake() async throws {
        try await withSimulator(scenario: OpsControlCenterServerTests.scenario) { port in
            let jwt = try await token(["sub": "qa"])
            let ping = Array(#"{"action":"ping"}"#.utf8)
            // A message in three fragments with a ping between them, then a close with code 4001.
            let frames = try await Self.exchangeWithCookie(
                port: port, jwt: jwt,
                frames: [
                    Self.frame(0x1, Array(ping[0..<5]), fin: false), Self.frame(0x9, [7, 7]),
                    Self.frame(0x0, Array(ping[5..<10]), fin: false), Self.frame(0x0, Array(ping[10...])),
                    Self.frame(0x8, [0x0F, 0xA1] + Array("bye".utf8)),
                ])
            #expect(frames.contains { $0.opcode == 0xA && $0.payload == [7, 7] })
            #expect(frames.contains { $0.opcode == 1 && String(decoding: $0.payload, as: UTF8.self).contains(#""action":"pong""#) })
            // The server answers a close it may receive with 1000.
            #expect(frames.last?.opcode == 8)
            #expect(frames.last?.payload == [0x03, 0xE8])
            // A close code that may not be sent (1005) is a protocol error.
            #expect(Self.code(try await Self.exchangeWithCookie(port: port, jwt: jwt, frames: [Self.frame(0x8, [0x03, 0xED])])) == 1002)
        }
    }

    static func exchangeWithCookie(port: Int, jwt: String, frames: [[UInt8]]) async throws -> [(opcode: UInt8, payload: [UInt8])] {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: session=\(jwt)\r\n\r\n"
        let bytes: [UInt8] = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            for f in frames { try await outbound.write(ByteBuffer(bytes: f)) }
            var all: [UInt8] = []
            for try await chunk in inbound {
                all += chunk.readableBytesView
                if let frames = parseFrames(all), frames.contains(where: { $0.opcode == 8 }) { break }
            }
            return all
        }
        return parseFrames(bytes) ?? []
    }
}
