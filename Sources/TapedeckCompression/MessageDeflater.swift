import CompressNIO
import NIOCore

/// Compresses the messages one end of a connection sends under `permessage-deflate`.
///
/// One per connection and direction, used from one event loop. A compressed message is sent with
/// RSV1 set on its first frame; its payload is the raw DEFLATE data with the trailing
/// `00 00 ff ff` of the sync flush removed (RFC 7692 section 7.2.1).
public final class MessageDeflater {
    private let compressor: ZlibCompressor
    private let resetsContext: Bool
    /// Messages shorter than this go uncompressed (see ``shouldCompress(_:)``).
    public let minimumSize: Int

    /// - Parameters:
    ///   - windowBits: the window this end agreed to compress with, 9 to 15.
    ///   - noContextTakeover: start every message with an empty window.
    public init(windowBits: Int, noContextTakeover: Bool, minimumSize: Int = 0) throws {
        compressor = try ZlibCompressor(
            algorithm: .deflate, configuration: ZlibConfiguration(windowSize: Int32(min(15, max(9, windowBits)))))
        resetsContext = noContextTakeover
        self.minimumSize = minimumSize
    }

    /// The sending end of an agreement: the server's side, or the client's.
    public convenience init(_ agreement: DeflateAgreement, asServer: Bool) throws {
        try self.init(
            windowBits: asServer ? agreement.serverMaxWindowBits : max(9, agreement.clientMaxWindowBits),
            noContextTakeover: asServer ? agreement.serverNoContextTakeover : agreement.clientNoContextTakeover,
            minimumSize: agreement.minimumSize)
    }

    /// Whether a message of `size` bytes is worth compressing.
    public func shouldCompress(_ size: Int) -> Bool { size >= minimumSize }

    /// The compressed payload of a whole message.
    public func compress(_ message: ByteBuffer, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        // zlib has nothing to flush for an empty message; RFC 7692 section 7.2.3.6 sends one empty block.
        if message.readableBytes == 0 { return ByteBuffer(bytes: [0x00]) }
        var input = message
        var out = allocator.buffer(capacity: compressor.maxSize(from: input))
        try compressor.deflate(from: &input, to: &out, flush: .sync)
        while input.readableBytes > 0 {
            out.reserveCapacity(minimumWritableBytes: compressor.maxSize(from: input))
            try compressor.deflate(from: &input, to: &out, flush: .sync)
        }
        if out.readableBytes >= 4, out.getBytes(at: out.writerIndex - 4, length: 4) == [0, 0, 0xFF, 0xFF] {
            out.moveWriterIndex(to: out.writerIndex - 4)
        }
        if resetsContext { try compressor.reset() }
        return out
    }
}
