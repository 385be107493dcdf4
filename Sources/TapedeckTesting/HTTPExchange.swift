import Foundation
import NIOCore
import NIOPosix

/// One HTTP/1.1 request and its answer over a fresh connection (`Connection: close`), for the
/// `http` step.
enum HTTPExchange {
    struct Answer: Sendable {
        var status: Int
        var body: String
    }

    static func perform(host: String, port: Int, method: String, uri: String, headers: [(String, String)], body: String?) async throws -> Answer {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        var request = "\(method) \(uri) HTTP/1.1\r\n"
        if !headers.contains(where: { $0.0.lowercased() == "host" }) { request += "Host: \(host):\(port)\r\n" }
        request += "Connection: close\r\n"
        for (k, v) in headers { request += "\(k): \(v)\r\n" }
        if let body {
            if !headers.contains(where: { $0.0.lowercased() == "content-type" }) { request += "Content-Type: application/json\r\n" }
            request += "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
        } else {
            request += "\r\n"
        }
        let bytes: [UInt8] = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            var all: [UInt8] = []
            for try await chunk in inbound { all += chunk.readableBytesView }
            return all
        }
        guard let end = FrameReader.headEnd(bytes) else {
            throw TestConnectionError(message: "no complete HTTP answer from \(host):\(port)")
        }
        let head = String(decoding: bytes[..<end], as: UTF8.self).split(separator: "\r\n")
        let status = Int(head.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        var payload = Array(bytes[(end + 4)...])
        if head.contains(where: { $0.lowercased().hasPrefix("transfer-encoding:") && $0.lowercased().contains("chunked") }) {
            payload = dechunk(payload)
        }
        return Answer(status: status, body: String(decoding: payload, as: UTF8.self))
    }

    /// The data of a chunked body.
    static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            guard let lineEnd = (i..<max(i, bytes.count - 1)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }) else { break }
            let sizeText = String(decoding: bytes[i..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size > 0 else { break }
            let start = lineEnd + 2
            guard start + size <= bytes.count else { break }
            out += bytes[start..<start + size]
            i = start + size + 2
        }
        return out
    }
}
