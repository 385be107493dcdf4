import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TapedeckCore
import TapedeckScenario
import TapedeckProtocol
import TapedeckServer

/// Runs a simulator on 127.0.0.1 port 0 for the duration of `body`.
func withSimulator(
    scenario yaml: String, speed: SimulatorConfiguration.Speed? = .max, timeline: SimulatorConfiguration.TimelineMode = .perConnection,
    tap: (any SimulatorTap)? = nil, probe: SimulatorProbe? = nil, recordings: (any RecordingOpener)? = nil,
    start: SimulatorConfiguration.StartPolicy? = nil, extra: [String] = [], logger given: Logger? = nil,
    clock: any SimulationClock = RealClock(), onServer: (SimulatorServer) -> Void = { _ in },
    configure: (inout SimulatorConfiguration) -> Void = { _ in },
    _ body: @escaping @Sendable (Int) async throws -> Void
) async throws {
    let scenario = try ScenarioLoader().load(text: yaml, file: "test.yaml")
    let others = try extra.enumerated().map { try ScenarioLoader().load(text: $0.element, file: "extra\($0.offset).yaml") }
    let world = try SimulatorWorld(scenarios: [scenario] + others)
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    var logger = given ?? Logger(label: "test")
    if given == nil { logger.logLevel = .warning }
    var configuration = SimulatorConfiguration(host: "127.0.0.1", port: 0, speed: speed, timeline: timeline, start: start)
    // A client's first message may take seconds on a machine busy with a parallel test run: the
    // timeline waits for it. Tests of clients that never send one set the grace they rely on.
    configuration.startGrace = 600
    configure(&configuration)
    let server = SimulatorServer(
        world: world, configuration: configuration, clock: clock, logger: logger, tap: tap, probe: probe, recordings: recordings
    ) { _, port in
        continuation.yield(port)
    }
    onServer(server)
    let group = ServiceGroup(services: [server], logger: logger)
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        var it = ports.makeAsyncIterator()
        guard let port = await it.next() else { return }
        do {
            try await body(port)
        } catch {
            // Stop cleanly even when the test failed, so that the failure is the only thing reported.
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

/// Mints a token the test simulator accepts.
func token(_ claims: Value) async throws -> String {
    try await Authenticator().mint(claims: claims, expiresIn: 3600, now: RealClock().wallTime)
}

/// Sends a raw HTTP upgrade request and returns the status code and body of the answer.
func rawUpgrade(port: Int, path: String, headers: [String: String]) async throws -> (status: Int, body: String, head: [String]) {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    var request = "GET \(path) HTTP/1.1\r\n" + (headers["Host"] == nil ? "Host: 127.0.0.1:\(port)\r\n" : "") + "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    for (k, v) in headers { request += "\(k): \(v)\r\n" }
    request += "\r\n"
    return try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(string: request))
        var text = ""
        for try await chunk in inbound {
            text += String(buffer: chunk)
            if let headEnd = text.range(of: "\r\n\r\n") {
                let head = text[..<headEnd.lowerBound]
                let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.count >= text.distance(from: text.startIndex, to: headEnd.upperBound) + length { break }
            }
        }
        let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        let head = text.range(of: "\r\n\r\n").map { text[..<$0.lowerBound].components(separatedBy: "\r\n") } ?? []
        return (status, body, head)
    }
}

/// Upgrades with a raw socket and reads server frames until the server closes: the text frames as
/// values, and the close code. For short sessions the server ends by itself.
func rawSession(port: Int, path: String, headers: [String: String] = [:]) async throws -> (messages: [Value], closeCode: Int?) {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    var request = "GET \(path) HTTP/1.1\r\n" + (headers["Host"] == nil ? "Host: 127.0.0.1:\(port)\r\n" : "") + "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    for (k, v) in headers { request += "\(k): \(v)\r\n" }
    request += "\r\n"
    let bytes: [UInt8] = try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(string: request))
        var all: [UInt8] = []
        for try await chunk in inbound {
            all += chunk.readableBytesView
            if let frames = parseFrames(all), frames.contains(where: { $0.opcode == 8 }) { break }
        }
        return all
    }
    var messages: [Value] = []
    var code: Int?
    for f in parseFrames(bytes) ?? [] {
        if f.opcode == 1 { messages.append(try Value(json: String(decoding: f.payload, as: UTF8.self))) }
        if f.opcode == 8, f.payload.count >= 2 { code = Int(f.payload[0]) << 8 | Int(f.payload[1]) }
    }
    return (messages, code)
}

/// Unmasked server frames after the HTTP response head; `nil` before the head is complete.
func parseFrames(_ bytes: [UInt8]) -> [(opcode: UInt8, payload: [UInt8])]? {
    let crlf: [UInt8] = Array("\r\n\r\n".utf8)
    guard let headEnd = (0..<max(0, bytes.count - 3)).first(where: { Array(bytes[$0..<$0 + 4]) == crlf }) else { return nil }
    var i = headEnd + 4
    var out: [(UInt8, [UInt8])] = []
    while i + 2 <= bytes.count {
        let opcode = bytes[i] & 0x0F
        var length = Int(bytes[i + 1] & 0x7F)
        var j = i + 2
        if length == 126 {
            guard j + 2 <= bytes.count else { break }
            length = Int(bytes[j]) << 8 | Int(bytes[j + 1])
            j += 2
        } else if length == 127 {
            guard j + 8 <= bytes.count else { break }
            length = bytes[j..<j + 8].reduce(0) { $0 << 8 | Int($1) }
            j += 8
        }
        guard j + length <= bytes.count else { break }
        out.append((opcode, Array(bytes[j..<j + length])))
        i = j + length
    }
    return out
}

/// Opens `count` sockets, then sends all their upgrade requests at once, and returns each answer's
/// status; the sockets stay open until every answer is in, so an accepted upgrade keeps its slot.
func simultaneousUpgrades(port: Int, path: String, count: Int) async throws -> [Int] {
    var channels: [NIOAsyncChannel<ByteBuffer, ByteBuffer>] = []
    for _ in 0..<count {
        channels.append(
            try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port) { channel in
                    channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
                })
    }
    let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    let answered = Countdown(count)
    let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
        let (gate, open) = AsyncStream<Void>.makeStream()
        for channel in channels {
            group.addTask {
                // Every request waits at the gate, then all go together.
                for await _ in gate { break }
                return try await channel.executeThenClose { inbound, outbound in
                    try await outbound.write(ByteBuffer(string: request))
                    var text = ""
                    for try await chunk in inbound {
                        text += String(buffer: chunk)
                        if text.contains("\r\n") { break }
                    }
                    // Close only once every request has its answer.
                    await answered.arriveAndWait()
                    return Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
                }
            }
        }
        for _ in channels { open.yield() }
        open.finish()
        var out: [Int] = []
        for try await s in group { out.append(s) }
        return out
    }
    return statuses
}

/// Waits until `count` tasks have arrived.
actor Countdown {
    private var remaining: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { remaining = count }

    func arriveAndWait() async {
        remaining -= 1
        if remaining <= 0 {
            for w in waiting { w.resume() }
            waiting = []
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }
}
