import Foundation
import NIOCore
import NIOPosix
import Testing
import TapedeckCore
import TapedeckServer

/// `--speed max` goes as fast as the clients read; a client that stops reading must not stop the others.
@Suite("--speed max with a client that stops reading")
struct SpeedMaxServerTests {
    static let count = 4000
    static let scenario = """
        scenario: flood
        profile: ops-control-center
        seed: 1
        start: first-message
        streams:
          - name: flood
            every: 1ms
            count: \(count)
            event:
              type: metric
              action: updated
              data: { seq: "{{ seq() }}", pad: "{{ format('%4000d', seq()) }}" }
        """

    @Test(.timeLimit(.minutes(1))) func aReaderGetsEveryEventWhileAnotherClientNeverReads() async throws {
        try await withSimulator(scenario: Self.scenario, speed: .max, timeline: .shared) { port async throws in
            let jwt = try await token(["sub": "qa"])
            let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            func open() async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
                try await bootstrap.connect(host: "127.0.0.1", port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            }
            var request = "GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            request += "Authorization: Bearer \(jwt)\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            // The first client upgrades, then never reads: its socket buffers fill, then its queue.
            let stalled = try await open()
            try await stalled.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(string: request))
                let reader = try await open()
                let seqs = try await reader.executeThenClose { inbound, outbound in
                    try await outbound.write(ByteBuffer(string: request))
                    // Its subscription starts the timeline (start: first-message), so it is owed every event.
                    let subscribe = Array(#"{"action":"subscribe","topics":["metrics"]}"#.utf8)
                    try await outbound.write(ByteBuffer(bytes: [0x81, 0x80 | UInt8(subscribe.count), 0, 0, 0, 0] + subscribe))
                    var frames = FrameReader()
                    var seqs: [Int] = []
                    for try await chunk in inbound {
                        frames.append(chunk.readableBytesView)
                        while let text = frames.nextText() {
                            if let n = try Value(json: text)["data"]?["seq"]?.intValue { seqs.append(n) }
                        }
                        if seqs.last == Self.count { break }
                    }
                    return seqs
                }
                // Every event reached the reader, in order: none was dropped for it, and the
                // timeline did not wait for the stalled client for more than the allowance.
                #expect(seqs.count == Self.count)
                let everyOneInOrder = seqs == Array(1...Self.count)
                #expect(everyOneInOrder, "first \(Array(seqs.prefix(3))), last \(Array(seqs.suffix(3)))")
                _ = inbound
            }
        }
    }
}
