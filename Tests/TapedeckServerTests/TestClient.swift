import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOWebSocket
import TapedeckCore

/// A scripted WebSocket client for end-to-end tests: send JSON, read JSON values in order.
struct TestClient {
    let outbound: WebSocketOutboundWriter
    var messages: WebSocketInboundMessageStream.AsyncIterator

    mutating func send(_ text: String) async throws { try await outbound.write(.text(text)) }

    /// The next JSON message; `nil` once the server closed the connection.
    mutating func next() async throws -> Value? {
        while let m = try await messages.next() {
            if case .text(let t) = m { return try Value(json: t) }
        }
        return nil
    }

    /// The next text message as it came, JSON or not; `nil` once the server closed the connection.
    mutating func nextText() async throws -> String? {
        while let m = try await messages.next() {
            if case .text(let t) = m { return t }
        }
        return nil
    }

    /// Messages up to and including the first that satisfies `stop` (or all of them up to the close).
    mutating func collect(until stop: (Value) -> Bool, max: Int = 100_000) async throws -> [Value] {
        var out: [Value] = []
        while out.count < max, let v = try await next() {
            out.append(v)
            if stop(v) { break }
        }
        return out
    }

    /// The first message with this `type` (skipping others); `nil` if the connection closes first.
    mutating func next(type: String) async throws -> Value? {
        try await collect(until: { $0["type"]?.stringValue == type }).last.flatMap { $0["type"]?.stringValue == type ? $0 : nil }
    }

    mutating func close() async throws { try await outbound.close(.normalClosure, reason: nil) }
}

/// The result of a scripted connection: what the script returned and the server's close code.
struct ClientRun<T: Sendable>: Sendable {
    var value: T?
    var closeCode: Int?
}

/// Connects to `path` and runs `script`; the whole run is bounded by `timeout` seconds.
@discardableResult
func withClient<T: Sendable>(
    port: Int, path: String, headers: HTTPFields = [:], timeout: Double = 20,
    _ script: @escaping @Sendable (inout TestClient) async throws -> T
) async throws -> ClientRun<T> {
    let box = ResultBox<T>()
    let frame = try await withThrowingTaskGroup(of: WebSocketCloseFrame?.self) { group in
        group.addTask {
            try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(port)\(path)", configuration: .init(maxFrameSize: 1 << 22, additionalHeaders: headers),
                logger: Logger(label: "test-client")
            ) { inbound, outbound, _ in
                var client = TestClient(outbound: outbound, messages: inbound.messages(maxSize: 1 << 24).makeAsyncIterator())
                let v = try await script(&client)
                await box.set(v)
            }
        }
        group.addTask {
            try await Task.sleep(for: .seconds(timeout))
            throw TestTimeout(seconds: timeout)
        }
        let first = try await group.next() ?? nil
        group.cancelAll()
        return first
    }
    return ClientRun(value: await box.value, closeCode: frame.map { Int(UInt16(webSocketErrorCode: $0.closeCode)) })
}

struct TestTimeout: Error, CustomStringConvertible {
    var seconds: Double
    var description: String { "test client timed out after \(seconds) s" }
}

actor ResultBox<T: Sendable> {
    var value: T?
    func set(_ v: T) { value = v }
}
