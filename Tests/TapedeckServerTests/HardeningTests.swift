import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing
import TapedeckCore
import TapedeckServer

/// What `serve` does with clients that do not play by the rules: bad or slow handshakes, foreign
/// origins, too many connections, clients that never read, clients that never answer a close.
/// Each test ends by checking that the server still serves.
@Suite("Hardening of serve")
struct HardeningTests {
    static let echo = "scenario: echo\nprofile: echo\nstreams: []\n"
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="

    static func request(
        port: Int, path: String = "/", key: String? = HardeningTests.key, version: String? = "13", extra: [String] = []
    ) -> [UInt8] {
        var lines = ["GET \(path) HTTP/1.1", "Host: 127.0.0.1:\(port)", "Upgrade: websocket", "Connection: Upgrade"]
        if let key { lines.append("Sec-WebSocket-Key: \(key)") }
        if let version { lines.append("Sec-WebSocket-Version: \(version)") }
        lines += extra
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }

    /// The status line's code and the head's header lines, lowercased.
    static func head(_ bytes: [UInt8]) -> (status: Int, headers: [String]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let head = text.components(separatedBy: "\r\n\r\n").first ?? ""
        let lines = head.components(separatedBy: "\r\n")
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        return (status, lines.dropFirst().map { $0.lowercased() })
    }

    /// The server answers a WebSocket upgrade; the socket stays open for the echo to work.
    static func upgrades(_ port: Int) async throws -> Bool {
        let r = try await rawConnection(port: port, chunks: [request(port: port)], until: { Self.head($0).status != 0 }, limit: .seconds(5))
        return Self.head(r.bytes).status == 101
    }

    @Test func aBadOpeningHandshakeGets400AndABadVersionSaysWhichOneToSpeak() async throws {
        try await withSimulator(scenario: Self.echo) { port async throws in
            func answer(_ request: [UInt8]) async throws -> (status: Int, headers: [String], closed: Bool) {
                let r = try await rawConnection(port: port, chunks: [request], limit: .seconds(5))
                let h = Self.head(r.bytes)
                return (h.status, h.headers, r.closedAfter != nil)
            }
            for version in ["8", "14", "13, 8"] {
                let a = try await answer(Self.request(port: port, version: version))
                #expect(a.status == 400, "version \(version)")
                #expect(a.headers.contains("sec-websocket-version: 13"), "version \(version)")
                #expect(a.closed)
            }
            let noVersion = try await answer(Self.request(port: port, version: nil))
            #expect(noVersion.status == 400 && noVersion.headers.contains("sec-websocket-version: 13"))
            // A missing, short (8 bytes), not-base64 or repeated key.
            for (key, extra) in [(nil, []), ("c2hvcnRrZXk=", []), ("not base64 at all!!!!!!=", []), (Self.key, ["Sec-WebSocket-Key: \(Self.key)"])] {
                let a = try await answer(Self.request(port: port, key: key, extra: extra))
                #expect(a.status == 400, "key \(key ?? "none") \(extra)")
                #expect(a.closed)
            }
            // An upgrade without Connection: Upgrade, a POST.
            let noConnection = Array("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Key: \(Self.key)\r\nSec-WebSocket-Version: 13\r\n\r\n".utf8)
            #expect(try await answer(noConnection).status == 400)
            #expect(try await answer(Array(String(decoding: Self.request(port: port), as: UTF8.self).replacingOccurrences(of: "GET", with: "POST").utf8)).status == 400)
            #expect(try await Self.upgrades(port))
        }
    }

    @Test func headersOverTheLimitGet431AtOnce() async throws {
        // The handshake timeout is long, so that a server that waited for it (instead of answering
        // at once) fails the test on a busy machine too.
        try await withSimulator(scenario: Self.echo, configure: { $0.handshakeTimeout = .seconds(60) }) { port async throws in
            // A 10 MB token in a header: answered once 80 KiB of headers have arrived, not read whole.
            let huge = Self.request(port: port, extra: ["Authorization: Bearer " + String(repeating: "a", count: 10_000_000)])
            let r = try await rawConnection(port: port, chunks: [huge], limit: .seconds(45))
            #expect(Self.head(r.bytes).status == 431)
            #expect(r.closedAfter.map { $0 < .seconds(30) } == true)
            let many = Self.request(port: port, extra: (0..<2000).map { "X-Header-\($0): \(String(repeating: "v", count: 50))" })
            #expect(Self.head(try await rawConnection(port: port, chunks: [many], limit: .seconds(10)).bytes).status == 431)
            #expect(Self.head(try await rawConnection(port: port, chunks: [Array("GARBAGE\r\n\r\n".utf8)], limit: .seconds(5)).bytes).status == 400)
            #expect(try await Self.upgrades(port))
        }
    }

    @Test func aSlowlorisAndAnIdleSocketAreDroppedAfterTheHandshakeTimeout() async throws {
        try await withSimulator(scenario: Self.echo, configure: { $0.handshakeTimeout = .seconds(1) }) { port async throws in
            let idle = try await rawConnection(port: port, chunks: [], limit: .seconds(15))
            #expect(idle.bytes.isEmpty)
            let idleAfter = try #require(idle.closedAfter)
            #expect(idleAfter >= .milliseconds(900) && idleAfter < .seconds(10))
            // Headers a line every 300 ms, for 6 s if the server let it. (The upper bounds leave
            // room for a loaded machine: what matters is that the socket does not stay open.)
            let lines = [Array("GET / HTTP/1.1\r\n".utf8)] + (0..<20).map { Array("X-Slow-\($0): x\r\n".utf8) }
            let slow = try await rawConnection(port: port, chunks: lines, pause: .milliseconds(300), limit: .seconds(15))
            let slowAfter = try #require(slow.closedAfter)
            #expect(slowAfter >= .milliseconds(900) && slowAfter < .seconds(10))
            // A plain HTTP connection that stays idle after its request is dropped too.
            let get = Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
            let keptAlive = try await rawConnection(port: port, chunks: [get], limit: .seconds(15))
            #expect(Self.head(keptAlive.bytes).status == 200)
            #expect(keptAlive.closedAfter.map { $0 < .seconds(10) } == true)
            #expect(try await Self.upgrades(port))
        }
    }

    @Test func anUpgradeFromAnOriginNotAllowedGets403() async throws {
        try await withSimulator(scenario: Self.echo, configure: { $0.allowedOrigins = ["http://app.example"] }) { port async throws in
            #expect(try await rawUpgrade(port: port, path: "/", headers: ["Origin": "http://evil.example"]).status == 403)
            #expect(try await rawUpgrade(port: port, path: "/", headers: ["Origin": "HTTP://APP.EXAMPLE"]).status == 101)
            // Not from a browser page: no Origin, no cross-site risk.
            #expect(try await rawUpgrade(port: port, path: "/", headers: [:]).status == 101)
        }
        // Without the option, any origin.
        try await withSimulator(scenario: Self.echo) { port async throws in
            #expect(try await rawUpgrade(port: port, path: "/", headers: ["Origin": "http://evil.example"]).status == 101)
        }
    }

    @Test func theServersConnectionCapIs503AndFreesItsSlotsOnClose() async throws {
        try await withSimulator(scenario: Self.echo, configure: { $0.maxConnections = 2 }) { port async throws in
            let a = try await HeldConnection.open(port: port, path: "/")
            let b = try await HeldConnection.open(port: port, path: "/")
            #expect(a.status == 101 && b.status == 101)
            let refused = try await rawUpgrade(port: port, path: "/", headers: [:])
            #expect(refused.status == 503)
            let body = try Value(json: refused.body)
            #expect(body["error"] == "Service Unavailable")
            #expect(body["message"] == "too many connections: the server's limit is 2")
            await a.close()
            #expect(try await eventually { try await rawUpgrade(port: port, path: "/", headers: [:]).status == 101 })
            await b.close()
        }
    }

    @Test func thePerIdentityCapIs429InTheProfilesErrorFormat() async throws {
        try await withSimulator(scenario: NeuralLogServerTests.scenario(), configure: { $0.maxConnectionsPerIdentity = 1 }) { port async throws in
            let acme = try await token(["sub": "u1", "tenant_id": "acme"])
            let acme2 = try await token(["sub": "u2", "tenant_id": "acme"])
            let globex = try await token(["sub": "u3", "tenant_id": "globex"])
            let first = try await HeldConnection.open(port: port, path: "/v1/notifications?token=\(acme)")
            #expect(first.status == 101)
            // Another user of the same tenant: the profile counts per tenant (limits.identity).
            let second = try await rawUpgrade(port: port, path: "/v1/notifications?token=\(acme2)", headers: [:])
            #expect(second.status == 429)
            let body = try Value(json: second.body)
            #expect(body["error"] == "too_many_connections")
            #expect(body["message"] == "too many connections for this identity: the limit is 1")
            let other = try await HeldConnection.open(port: port, path: "/v1/notifications?token=\(globex)")
            #expect(other.status == 101)
            await first.close()
            #expect(try await eventually { try await rawUpgrade(port: port, path: "/v1/notifications?token=\(acme2)", headers: [:]).status == 101 })
            await other.close()
        }
        // A profile without auth: the client's address is its identity.
        try await withSimulator(scenario: Self.echo, configure: { $0.maxConnectionsPerIdentity = 1 }) { port async throws in
            let held = try await HeldConnection.open(port: port, path: "/")
            #expect(held.status == 101)
            #expect(try await rawUpgrade(port: port, path: "/", headers: [:]).status == 429)
            await held.close()
        }
    }

    @Test func aClientThatNeverReadsIsClosedWith1008AndTheServerSurvives() async throws {
        // A long close timeout: the server's close waits for this client to start reading.
        let probe = SimulatorProbe()
        try await withSimulator(
            scenario: Self.echo, probe: probe, configure: { $0.replyQueueCapacity = 16; $0.closeTimeout = .seconds(60) }
        ) { port async throws in
            // 100 binary messages of 60 KB (6 MB to echo) written without reading a byte: more
            // than the socket buffers (with the client's small receive buffer, about 3.5 MB here)
            // and 16 queued replies hold. The client reads once the server has read them all (it
            // keeps reading while its close waits), however slowly a loaded machine runs it.
            let payload = [UInt8](repeating: 0x42, count: 60_000)
            let message = WebSocketProtocolTests.frame(0x2, payload)
            let chunks = [Self.request(port: port)] + Array(repeating: message, count: 100)
            let r = try await rawConnection(
                port: port, chunks: chunks, readAfterWriting: true, readAfter: { await probe.waitUntilHandled(atLeast: 100) }, until: { bytes in
                (parseFrames(bytes) ?? []).contains { $0.opcode == 8 }
            }, limit: .seconds(30))
            let frames = parseFrames(r.bytes) ?? []
            #expect(WebSocketProtocolTests.code(frames) == 1008)
            let echoed = frames.filter { $0.opcode == 2 }.count
            #expect(echoed < 100)
            #expect(try await Self.upgrades(port))
        }
    }

    @Test func pingsThatAreNeverReadAreBoundedToo() async throws {
        try await withSimulator(scenario: Self.echo, configure: { $0.replyQueueCapacity = 16; $0.closeTimeout = .seconds(60) }) { port async throws in
            // 20,000 pings of 125 bytes: 2.5 MB of pongs nobody reads (small frames fill the socket
            // buffers after about a thousand).
            let ping = WebSocketProtocolTests.frame(0x9, [UInt8](repeating: 7, count: 125))
            var burst: [UInt8] = []
            for _ in 0..<1000 { burst += ping }
            let chunks = [Self.request(port: port)] + Array(repeating: burst, count: 20)
            let r = try await rawConnection(port: port, chunks: chunks, readAfterWriting: true, until: { bytes in
                (parseFrames(bytes) ?? []).contains { $0.opcode == 8 }
            }, limit: .seconds(30))
            let frames = parseFrames(r.bytes) ?? []
            #expect(WebSocketProtocolTests.code(frames) == 1008)
            #expect(frames.filter { $0.opcode == 0xA }.count < 20_000)
            #expect(try await Self.upgrades(port))
        }
    }

    @Test func aCloseTheClientNeverAnswersIsDroppedAfterTheCloseTimeout() async throws {
        try await withSimulator(scenario: NeuralLogServerTests.scenario(), configure: { $0.closeTimeout = .seconds(1) }) { port async throws in
            let acme = try await token(["sub": "u1", "tenant_id": "acme"])
            // follow=false: the server ends the stream and closes (1000) at once; this client
            // reads everything and never answers.
            let r = try await rawConnection(
                port: port, chunks: [Self.request(port: port, path: "/v1/logs/stream?follow=false&token=\(acme)")], limit: .seconds(15))
            let frames = parseFrames(r.bytes) ?? []
            #expect(WebSocketProtocolTests.code(frames) == 1000)
            let after = try #require(r.closedAfter)
            #expect(after >= .milliseconds(900) && after < .seconds(10))
        }
        // The default: 5 s.
        #expect(SimulatorConfiguration().closeTimeout == .seconds(5))
    }
}

/// Retries `check` for up to 5 s (a slot is freed when the server sees the socket close).
func eventually(_ check: () async throws -> Bool) async throws -> Bool {
    for _ in 0..<50 {
        if try await check() { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return false
}

/// Connects to 127.0.0.1:`port`, writes `chunks` (with `pause` between them), and reads until the
/// server closes, `until` says enough, or `limit` passes. Writes the server refuses (it closed)
/// are ignored. `closedAfter`: when the server closed, from the connection; `nil` if it did not.
///
/// With `readAfterWriting`, nothing is read before every chunk is written: a client that does
/// not read (its socket's small receive buffer, and a few reads NIO buffers, fill up; then the
/// server's).
func rawConnection(
    port: Int, chunks: [[UInt8]], pause: Duration = .zero, readAfterWriting: Bool = false,
    readAfter: (@Sendable () async -> Void)? = nil,
    until: @escaping @Sendable ([UInt8]) -> Bool = { _ in false }, limit: Duration
) async throws -> (bytes: [UInt8], closedAfter: Duration?) {
    var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    if readAfterWriting {
        // A small receive buffer, set before connecting: no autotuning to tens of megabytes, so
        // that what the client does not read backs up into the server at once.
        bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: 4096)
    }
    // Timed from before the connect: the server's timers start at its accept, and a loaded
    // machine may resume this task long after.
    let start = ContinuousClock.now
    let channel = try await bootstrap
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
    let received = ReceivedBytes()
    let (written, allWritten) = AsyncStream<Void>.makeStream()
    let closedAfter: Duration? = try await channel.executeThenClose { inbound, outbound in
        try await withThrowingTaskGroup(of: Duration?.self) { group in
            group.addTask {
                if readAfterWriting {
                    for await _ in written {}
                }
                await readAfter?()
                do {
                    for try await chunk in inbound {
                        let enough = received.bytes.withLock { bytes in
                            bytes += chunk.readableBytesView
                            return until(bytes)
                        }
                        if enough { return nil }
                    }
                } catch {
                    // A reset is the server closing too.
                }
                return ContinuousClock.now - start
            }
            group.addTask {
                for (i, chunk) in chunks.enumerated() {
                    if i > 0, pause > .zero { try await Task.sleep(for: pause) }
                    do { try await outbound.write(ByteBuffer(bytes: chunk)) } catch { break }
                }
                allWritten.finish()
                try await Task.sleep(for: limit)
                return nil
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            channel.channel.close(promise: nil)
            return first
        }
    }
    return (received.bytes.withLock { $0 }, closedAfter)
}

/// What a raw connection has read so far.
final class ReceivedBytes: Sendable {
    let bytes = Mutex<[UInt8]>([])
}

/// An upgrade whose socket stays open until ``close()``.
final class HeldConnection: Sendable {
    let status: Int
    private let release: AsyncStream<Void>.Continuation
    private let task: Task<Void, any Error>

    private init(status: Int, release: AsyncStream<Void>.Continuation, task: Task<Void, any Error>) {
        self.status = status
        self.release = release
        self.task = task
    }

    static func open(port: Int, path: String, headers: [String] = []) async throws -> HeldConnection {
        let (statuses, reportStatus) = AsyncStream<Int>.makeStream()
        let (released, release) = AsyncStream<Void>.makeStream()
        let request = HardeningTests.request(port: port, path: path, extra: headers)
        let task = Task {
            defer { reportStatus.finish() }
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port) { channel in
                    channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
                }
            try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(bytes: request))
                var bytes: [UInt8] = []
                for try await chunk in inbound {
                    bytes += chunk.readableBytesView
                    if String(decoding: bytes, as: UTF8.self).contains("\r\n\r\n") { break }
                }
                reportStatus.yield(HardeningTests.head(bytes).status)
                for await _ in released { break }
            }
        }
        var it = statuses.makeAsyncIterator()
        let status = await it.next() ?? 0
        return HeldConnection(status: status, release: release, task: task)
    }

    func close() async {
        release.finish()
        _ = try? await task.value
    }
}
