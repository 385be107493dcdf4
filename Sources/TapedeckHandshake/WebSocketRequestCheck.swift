import Foundation
public import NIOHTTP1

/// The opening handshake's request, as RFC 6455 (4.2.1) asks a server to check it before anything
/// else: a request that is not one gets 400, never a dropped connection.
public enum WebSocketRequestCheck {
    /// Whether the request asks for a WebSocket (`Upgrade: websocket`, in any case).
    public static func asksForWebSocket(_ head: HTTPRequestHead) -> Bool {
        head.headers[canonicalForm: "upgrade"].contains { $0.lowercased() == "websocket" }
    }

    /// Why a request that asks for a WebSocket is not a valid opening handshake, as the answer to
    /// send (400; with `Sec-WebSocket-Version: 13` when the version is wrong); nil when it is valid.
    ///
    /// It must be a `GET` of HTTP/1.1 or later with `Connection: Upgrade`, exactly one
    /// `Sec-WebSocket-Version`, which is 13, and exactly one `Sec-WebSocket-Key`, the base64 of 16 bytes.
    public static func problem(in head: HTTPRequestHead) -> HandshakeAnswer? {
        guard head.method == .GET else { return .badRequest("a WebSocket upgrade must be a GET request") }
        guard head.version.major > 1 || (head.version.major == 1 && head.version.minor >= 1) else {
            return .badRequest("a WebSocket upgrade needs HTTP/1.1")
        }
        guard head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "upgrade" }) else {
            return .badRequest("a WebSocket upgrade needs Connection: Upgrade")
        }
        let versions = head.headers["sec-websocket-version"]
        guard versions.count == 1, versions[0].trimmingCharacters(in: .whitespaces) == "13" else {
            let why = versions.isEmpty ? "Sec-WebSocket-Version is missing" : "unsupported Sec-WebSocket-Version \(versions.joined(separator: ", "))"
            return .badRequest(why + "; this server speaks version 13", headers: [.init("Sec-WebSocket-Version", "13")])
        }
        let keys = head.headers["sec-websocket-key"]
        guard keys.count == 1 else {
            return .badRequest(keys.isEmpty ? "Sec-WebSocket-Key is missing" : "more than one Sec-WebSocket-Key")
        }
        guard let nonce = Data(base64Encoded: keys[0].trimmingCharacters(in: .whitespaces)), nonce.count == 16 else {
            return .badRequest("Sec-WebSocket-Key must be the base64 of 16 bytes")
        }
        return nil
    }
}
