import CompressNIO
import NIOCore

/// Decompresses the messages one end of a connection receives under `permessage-deflate`, within a
/// size limit, so that a small message that inflates past the limit (a deflate bomb) is refused
/// before memory grows: at most `limit + 1` bytes are ever held.
///
/// One per connection and direction, used from one event loop. The window is always 15 bits, which
/// reads data compressed with any smaller window; context is kept from message to message (a peer
/// that resets its own needs nothing from this side).
public final class MessageInflater {
    /// Why a message could not be decompressed.
    public enum Failure: Error, Equatable, Sendable {
        /// It inflates to more than the limit (close with 1009).
        case tooLarge(limit: Int)
        /// It is not valid DEFLATE data (close with 1007).
        case corrupt
    }

    private let decompressor: ZlibDecompressor

    public init() throws {
        decompressor = try ZlibDecompressor(algorithm: .deflate, windowSize: 15)
    }

    /// The decompressed payload of a whole compressed message (its frames' payloads joined).
    public func decompress(_ payload: ByteBuffer, limit: Int, allocator: ByteBufferAllocator) throws(Failure) -> ByteBuffer {
        var input = payload
        input.writeBytes([0, 0, 0xFF, 0xFF])
        let cap = limit == .max ? limit : limit + 1
        var out = allocator.buffer(capacity: min(cap, max(256, payload.readableBytes * 4)))
        while true {
            do {
                try decompressor.inflate(from: &input, to: &out)
                // The peer ended its stream (BFINAL): the next message starts a new one.
                if input.readableBytes > 0 { try? decompressor.reset() }
                break
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                break  // all input read, nothing more to write
            } catch let error as CompressNIOError where error == .bufferOverflow {
                guard out.capacity < cap else { throw .tooLarge(limit: limit) }
                out.reserveCapacity(min(cap, out.capacity * 2))
            } catch {
                try? decompressor.reset()
                throw .corrupt
            }
        }
        guard out.readableBytes <= limit else { throw .tooLarge(limit: limit) }
        return out
    }
}
