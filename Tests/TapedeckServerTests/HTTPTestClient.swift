import Foundation
import NIOCore
import NIOPosix
import TapedeckCore

/// A plain HTTP/1.1 exchange over a raw socket (`Connection: close`, read to the end).
struct HTTPAnswer: Sendable {
    var status: Int
    /// Header lines, lowercased names.
    var headers: [(name: String, value: String)]
    var body: String

    func header(_ name: String) -> String? { headers.first { $0.name == name.lowercased() }?.value }
    var json: Value? { try? Value(json: body) }
}

func http(
    port: Int, _ method: String, _ path: String, body: String? = nil, contentType: String? = "application/json", headers: [String: String] = [:]
) async throws -> HTTPAnswer {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
    var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
    for (k, v) in headers { request += "\(k): \(v)\r\n" }
    if let body {
        if let contentType { request += "Content-Type: \(contentType)\r\n" }
        request += "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
    } else {
        request += "Content-Length: 0\r\n\r\n"
    }
    let text: String = try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(string: request))
        var all = ""
        for try await chunk in inbound { all += String(buffer: chunk) }
        return all
    }
    guard let split = text.range(of: "\r\n\r\n") else { return HTTPAnswer(status: 0, headers: [], body: text) }
    let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
    let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
    let headers = lines.dropFirst().compactMap { line -> (String, String)? in
        guard let colon = line.firstIndex(of: ":") else { return nil }
        return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
    }
    var body = String(text[split.upperBound...])
    if headers.contains(where: { $0.0 == "transfer-encoding" && $0.1.lowercased() == "chunked" }) { body = dechunk(body) }
    return HTTPAnswer(status: status, headers: headers, body: body)
}

private func dechunk(_ text: String) -> String {
    var out = ""
    var rest = Substring(text)
    while let lineEnd = rest.range(of: "\r\n") {
        guard let size = Int(rest[..<lineEnd.lowerBound], radix: 16), size > 0 else { break }
        let start = lineEnd.upperBound
        let bytes = Array(rest[start...].utf8)
        guard bytes.count >= size else { break }
        out += String(decoding: bytes[0..<size], as: UTF8.self)
        rest = Substring(String(decoding: bytes[size...], as: UTF8.self)).dropFirst(2)
    }
    return out
}
