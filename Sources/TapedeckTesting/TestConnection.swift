import NIOCore
import NIOPosix
import Synchronization
import TapedeckCore

/// A message a test connection received from the server.
struct ReceivedMessage: Sendable {
    /// The message as a value: JSON text parsed, other text as a string, binary decoded by the profile's codec.
    var value: Value
    /// The raw text of a text message, for display.
    var text: String?
}

/// One client WebSocket connection of a test script, on raw NIO: the upgrade's status and body are
/// kept (a refused upgrade is an outcome to check, not an error), and every received message lands
/// in an inbox that the steps read.
final class TestConnection: Sendable {
    struct Upgrade: Sendable {
        var status: Int
        var body: String
    }

    private struct State {
        var upgrade: Upgrade?
        var upgradeWaiter: CheckedContinuation<Upgrade, any Error>?
        var inbox: [ReceivedMessage] = []
        var closeCode: Int?
        var closed = false
        var failure: String?
    }

    /// The state, shared with the task that reads the socket.
    private final class Box: Sendable {
        let mutex = Mutex(State())
    }

    private let box: Box
    private let outbound: AsyncStream<ByteBuffer>.Continuation
    private let task: Task<Void, Never>
    private let activity: Activity
    private let decodeBinary: @Sendable ([UInt8]) -> Value

    /// Connects and sends the upgrade request; returns once the server has answered it.
    static func open(
        host: String, port: Int, uri: String, headers: [(String, String)], activity: Activity,
        decodeBinary: @escaping @Sendable ([UInt8]) -> Value
    ) async throws -> TestConnection {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        var request = "GET \(uri) HTTP/1.1\r\n"
        if !headers.contains(where: { $0.0.lowercased() == "host" }) { request += "Host: \(host):\(port)\r\n" }
        request += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGFwZWRlY2stdGVzdGtleQ==\r\nSec-WebSocket-Version: 13\r\n"
        for (k, v) in headers { request += "\(k): \(v)\r\n" }
        request += "\r\n"
        let connection = TestConnection(channel: channel, request: request, activity: activity, decodeBinary: decodeBinary)
        return try await connection.upgraded()
    }

    private init(
        channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, request: String, activity: Activity, decodeBinary: @escaping @Sendable ([UInt8]) -> Value
    ) {
        let (frames, outbound) = AsyncStream<ByteBuffer>.makeStream()
        self.outbound = outbound
        self.activity = activity
        self.decodeBinary = decodeBinary
        let box = Box()
        self.box = box
        let reader = FrameReader()
        let port = channel.channel.localAddress?.port
        if let port { activity.read(0, port: port) }
        task = Task {
            do {
                try await channel.executeThenClose { inbound, writer in
                    try await writer.write(ByteBuffer(string: request))
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for await frame in frames { try await writer.write(frame) }
                        }
                        group.addTask {
                            var reader = reader
                            for try await chunk in inbound {
                                for event in reader.feed(Array(chunk.readableBytesView)) {
                                    TestConnection.handle(event, box: box, outbound: outbound, activity: activity, decodeBinary: decodeBinary)
                                }
                                if let port { activity.read(reader.frameBytes, port: port) }
                                if reader.finished { break }
                            }
                            if let head = reader.pendingRefusal() {
                                TestConnection.handle(head, box: box, outbound: outbound, activity: activity, decodeBinary: decodeBinary)
                            }
                        }
                        try await group.next()
                        group.cancelAll()
                    }
                }
            } catch {
                box.mutex.withLock { if $0.failure == nil && !$0.closed { $0.failure = "\(error)" } }
            }
            let waiter = box.mutex.withLock { s -> CheckedContinuation<Upgrade, any Error>? in
                s.closed = true
                defer { s.upgradeWaiter = nil }
                return s.upgrade == nil ? s.upgradeWaiter : nil
            }
            waiter?.resume(throwing: TestConnectionError(message: "the server closed the connection without answering the upgrade"))
            if let port { activity.ended(port: port) }
            outbound.finish()
            activity.signal()
        }
    }

    private func upgraded() async throws -> TestConnection {
        _ = try await withCheckedThrowingContinuation { (c: CheckedContinuation<Upgrade, any Error>) in
            let now = box.mutex.withLock { s -> Result<Upgrade, any Error>? in
                if let u = s.upgrade { return .success(u) }
                if s.closed { return .failure(TestConnectionError(message: s.failure ?? "the server closed the connection without answering the upgrade")) }
                s.upgradeWaiter = c
                return nil
            }
            if let now { c.resume(with: now) }
        }
        return self
    }

    private static func handle(
        _ event: FrameReader.Event, box: Box, outbound: AsyncStream<ByteBuffer>.Continuation, activity: Activity,
        decodeBinary: @Sendable ([UInt8]) -> Value
    ) {
        switch event {
        case .head(let status, let body):
            let waiter = box.mutex.withLock { s -> CheckedContinuation<Upgrade, any Error>? in
                s.upgrade = Upgrade(status: status, body: body)
                defer { s.upgradeWaiter = nil }
                return s.upgradeWaiter
            }
            waiter?.resume(returning: Upgrade(status: status, body: body))
        case .text(let text):
            let value = (try? Value(json: text)) ?? .string(text)
            box.mutex.withLock { $0.inbox.append(ReceivedMessage(value: value, text: text)) }
        case .binary(let bytes):
            let value = decodeBinary(bytes)
            box.mutex.withLock { $0.inbox.append(ReceivedMessage(value: value, text: nil)) }
        case .ping(let payload):
            outbound.yield(FrameReader.frame(opcode: 0xA, payload: payload))
        case .close(let code):
            let echo = box.mutex.withLock { s -> Bool in
                defer { if s.closeCode == nil { s.closeCode = code ?? 1005 } }
                return s.closeCode == nil
            }
            if echo {
                var payload: [UInt8] = []
                if let code { payload = [UInt8(code >> 8), UInt8(code & 0xFF)] }
                outbound.yield(FrameReader.frame(opcode: 0x8, payload: payload))
            }
            outbound.finish()
        }
        activity.signal()
    }

    /// The server's answer to the upgrade request.
    var upgrade: Upgrade { box.mutex.withLock { $0.upgrade ?? Upgrade(status: 0, body: "") } }

    /// Messages received and not yet consumed, oldest first.
    var inbox: [ReceivedMessage] { box.mutex.withLock { $0.inbox } }

    /// Removes the message at `index` from the inbox.
    func consume(at index: Int) { box.mutex.withLock { if $0.inbox.indices.contains(index) { $0.inbox.remove(at: index) } } }

    /// The close code the server sent (1005 for none), once it closed; `nil` while open.
    var closeCode: Int? { box.mutex.withLock { $0.closeCode } }

    /// Whether the TCP connection has ended.
    var isClosed: Bool { box.mutex.withLock { $0.closed } }

    /// Sends a text message.
    func send(text: String) { outbound.yield(FrameReader.frame(opcode: 0x1, payload: Array(text.utf8))) }

    /// Sends a binary message.
    func send(binary: [UInt8]) { outbound.yield(FrameReader.frame(opcode: 0x2, payload: binary)) }

    /// Starts the closing handshake with `code`.
    func close(code: Int) {
        let first = box.mutex.withLock { s -> Bool in
            defer { if s.closeCode == nil { s.closeCode = code } }
            return s.closeCode == nil
        }
        if first { outbound.yield(FrameReader.frame(opcode: 0x8, payload: [UInt8(code >> 8), UInt8(code & 0xFF)])) }
    }

    /// Ends the connection at once.
    func abort() {
        outbound.finish()
        task.cancel()
    }

    deinit { task.cancel() }
}
