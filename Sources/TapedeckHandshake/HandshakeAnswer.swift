public import NIOCore
public import NIOHTTP1

/// A plain HTTP answer that ends a connection before any upgrade: a refused or unreadable request
/// (400, 403, 431, ...), written as it is and followed by closing the connection.
public struct HandshakeAnswer: Sendable, Equatable {
    public var status: HTTPResponseStatus
    /// More response headers (`Sec-WebSocket-Version: 13` for a version the server does not speak).
    public var headers: [HTTPHeader]
    /// A text body, one line ending with a newline.
    public var text: String

    public struct HTTPHeader: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(status: HTTPResponseStatus, text: String, headers: [HTTPHeader] = []) {
        self.status = status
        self.text = text.hasSuffix("\n") ? text : text + "\n"
        self.headers = headers
    }

    /// 400 Bad Request.
    public static func badRequest(_ why: String, headers: [HTTPHeader] = []) -> HandshakeAnswer {
        HandshakeAnswer(status: .badRequest, text: why, headers: headers)
    }

    /// 431: the request's header fields are over the decoder's limit.
    public static let headersTooLarge = HandshakeAnswer(
        status: .init(statusCode: 431, reasonPhrase: "Request Header Fields Too Large"), text: "request headers are too large")

    /// 400 for a request the HTTP decoder cannot read.
    public static let malformed = HandshakeAnswer.badRequest("malformed HTTP request")

    /// The answer to a request the HTTP decoder refused: 431 when its headers are over the limit,
    /// else 400.
    public static func answering(_ error: HTTPParserError) -> HandshakeAnswer {
        if case .headerOverflow = error { return .headersTooLarge }
        return .malformed
    }

    /// Writes the answer from `context` (a handler after the HTTP response encoder), flushes it
    /// and then closes the channel.
    public func send(on context: ChannelHandlerContext) {
        var fields = HTTPHeaders()
        fields.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        fields.add(name: "Content-Length", value: String(text.utf8.count))
        fields.add(name: "Connection", value: "close")
        for h in headers { fields.add(name: h.name, value: h.value) }
        context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: status, headers: fields))), promise: nil)
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
