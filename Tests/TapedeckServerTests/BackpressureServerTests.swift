import Foundation
import NIOCore
import NIOPosix
import Testing
import TapedeckCore
import TapedeckServer

/// jobs-live-tail backpressure end to end: a client that stops reading loses the oldest entries of
/// its subscription and is told how many.
@Suite("Backpressure over WebSocket")
struct BackpressureServerTests {
    static let scenario = """
        scenario: flood
        profile: jobs-live-tail
        seed: 1
        settings: { buffer: 10 }
        entities:
          jobs:
            job-flood: { tenant_id: t1 }
        streams:
          - name: flood
            at: 100ms
            every: 1ms
            count: 1500
            event:
              type: live_tail_entry
              tenant_id: t1
              payload:
                job_id: job-flood
                entry: { line_number: "{{ seq() }}", raw_text: "{{ format('%16000d', seq()) }}" }
        """

    @Test func aSlowReaderGetsTheNewestEntriesAndAWarningWithTheDroppedCount() async throws {
        try await withSimulator(scenario: Self.scenario, speed: .factor(100)) { port async throws in
            let jwt = try await token(["sub": "ana", "tenant_id": "t1"])
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            let (entries, dropped, warnings, lines) = try await channel.executeThenClose { inbound, outbound in
                var request = "GET /api/v1/ws?token=\(jwt) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                try await outbound.write(ByteBuffer(string: request))
                // A masked client text frame (mask key 0: the payload is sent as is).
                let payload = Array(#"{"type":"subscribe_live_tail","payload":{"job_id":"job-flood"}}"#.utf8)
                try await outbound.write(ByteBuffer(bytes: [0x81, 0x80 | UInt8(payload.count), 0, 0, 0, 0] + payload))
                // Stop reading while the flood plays: the socket buffers fill, then the queue.
                try await Task.sleep(for: .seconds(4))
                var reader = FrameReader()
                var entries = 0, dropped = 0, warnings = 0
                var lines: [Int] = []
                for try await chunk in inbound {
                    reader.append(chunk.readableBytesView)
                    while let text = reader.nextText() {
                        let v = try Value(json: text)
                        if v["type"] == "live_tail_entry" {
                            entries += 1
                            if let n = v["payload"]?["entry"]?["line_number"]?.intValue { lines.append(n) }
                        } else if v["type"] == "backpressure_warning" {
                            warnings += 1
                            dropped += v["payload"]?["dropped"]?.intValue ?? 0
                        }
                    }
                    if entries + dropped >= 1500 { break }
                }
                return (entries, dropped, warnings, lines)
            }
            #expect(dropped > 0)
            #expect(warnings > 0)
            #expect(entries + dropped == 1500)
            #expect(lines == lines.sorted())
            #expect(lines.last == 1500)
        }
    }
}

/// Incremental reader of unmasked server frames after the HTTP response head.
struct FrameReader {
    var bytes: [UInt8] = []
    var offset = 0
    var headDone = false

    mutating func append(_ b: some Collection<UInt8>) { bytes += b }

    mutating func nextText() -> String? {
        if !headDone {
            let crlf: [UInt8] = [13, 10, 13, 10]
            guard let end = (0..<max(0, bytes.count - 3)).first(where: { Array(bytes[$0..<$0 + 4]) == crlf }) else { return nil }
            offset = end + 4
            headDone = true
        }
        while offset + 2 <= bytes.count {
            let opcode = bytes[offset] & 0x0F
            var length = Int(bytes[offset + 1] & 0x7F)
            var j = offset + 2
            if length == 126 {
                guard j + 2 <= bytes.count else { return nil }
                length = Int(bytes[j]) << 8 | Int(bytes[j + 1])
                j += 2
            } else if length == 127 {
                guard j + 8 <= bytes.count else { return nil }
                length = bytes[j..<j + 8].reduce(0) { $0 << 8 | Int($1) }
                j += 8
            }
            guard j + length <= bytes.count else { return nil }
            let payload = bytes[j..<j + length]
            offset = j + length
            if offset > 1 << 20 {
                bytes.removeFirst(offset)
                offset = 0
            }
            if opcode == 1 { return String(decoding: payload, as: UTF8.self) }
        }
        return nil
    }
}
