import Foundation
import GRDB

/// A stored frame as read for bulk comparison: its `decoded` column is left as JSON text, so a reader
/// that only needs the bytes pays for no parsing.
public struct RawStoredFrame: Sendable, Hashable {
    public var seq: Int64
    public var direction: FrameDirection
    public var opcode: FrameOpcode
    public var fin: Bool
    public var payload: [UInt8]
    /// Nanoseconds since the recording started.
    public var offsetNanos: Int64
    /// The `decoded` column as stored (JSON text), if any.
    public var decodedJSON: String?
}

extension RecordingReader {
    /// Up to `limit` frames of one connection (optionally of one direction) with a sequence number above
    /// `seq`, in sequence order. Reading page by page walks two recordings side by side in bounded memory.
    public func framePage(
        connection: ConnectionID, direction: FrameDirection? = nil, after seq: Int64, limit: Int
    ) throws -> [RawStoredFrame] {
        try database.read { db in
            let sql: String
            var arguments: StatementArguments = [connection.rawValue, seq]
            if let direction {
                sql = """
                    SELECT seq, direction, opcode, fin, payload, offset_ns, decoded FROM frames
                    WHERE connection_id = ? AND seq > ? AND direction = ? ORDER BY seq LIMIT ?
                    """
                arguments += [direction.rawValue, limit]
            } else {
                sql = """
                    SELECT seq, direction, opcode, fin, payload, offset_ns, decoded FROM frames
                    WHERE connection_id = ? AND seq > ? ORDER BY seq LIMIT ?
                    """
                arguments += [limit]
            }
            var out: [RawStoredFrame] = []
            out.reserveCapacity(limit)
            let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
            while let row = try rows.next() {
                let payload: Data = row[4] ?? Data()
                out.append(
                    RawStoredFrame(
                        seq: row[0], direction: FrameDirection(rawValue: row[1] ?? "") ?? .serverToClient,
                        opcode: FrameOpcode(rawValue: row[2] ?? "") ?? .binary, fin: row[3], payload: [UInt8](payload),
                        offsetNanos: row[5], decodedJSON: row[6]))
            }
            return out
        }
    }
}
