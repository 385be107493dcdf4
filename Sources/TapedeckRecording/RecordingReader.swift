import TapedeckCore
import Foundation
import GRDB

/// A stored connection, as read back from a recording.
public struct StoredConnection: Sendable, Hashable {
    public var id: ConnectionID
    public var info: ConnectionInfo
    public var close: ConnectionClose
}

/// A stored frame, as read back from a recording.
public struct StoredFrame: Sendable, Hashable {
    public var seq: Int64
    public var batch: Int64
    public var frame: RecordedFrame
    /// True when redaction changed this frame's payload before it was stored.
    public var redacted: Bool
}

/// The metadata row of a recording.
public struct StoredRecording: Sendable, Hashable {
    public var formatVersion: Int
    public var metadata: RecordingMetadata
    public var startedAtNanos: Int64
    public var finishedAtNanos: Int64?
}

/// Reads a recording. Opening a file left behind by a crash recovers its WAL first.
public struct RecordingReader: Sendable {
    let database: DatabaseQueue
    public let path: String

    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw RecordingError.notARecording(path) }
        self.path = path
        do {
            // Another process may hold the file's lock for a moment (a recorder committing, another
            // reader recovering the WAL): wait for it rather than calling the file unreadable.
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            database = try DatabaseQueue(path: path, configuration: configuration)
            let ok = try database.read { db in try db.tableExists("recording") && db.tableExists("frames") }
            guard ok else { throw RecordingError.notARecording(path) }
        } catch let error as RecordingError {
            throw error
        } catch {
            throw RecordingError.notARecording("\(path) (\(error))")
        }
    }

    /// `PRAGMA integrity_check`: "ok" for a sound file.
    public func integrityCheck() throws -> String {
        try database.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "\n") }
    }

    public func recording() throws -> StoredRecording {
        try database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM recording WHERE id = 1") else {
                throw RecordingError.notARecording(path)
            }
            let tags = (try? Value(json: row["tags"] as String? ?? "[]"))?.arrayValue?.compactMap(\.stringValue) ?? []
            return StoredRecording(
                formatVersion: row["format_version"],
                metadata: RecordingMetadata(
                    name: row["name"], toolVersion: row["tool_version"], upstream: row["upstream"],
                    scenario: row["scenario"], profile: row["profile"], tags: tags),
                startedAtNanos: row["started_at_ns"], finishedAtNanos: row["finished_at_ns"])
        }
    }

    public func connections() throws -> [StoredConnection] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM connections ORDER BY id").map { row in
                let body: Data? = row["response_body"]
                let info = ConnectionInfo(
                    path: row["path"], query: row["query"], requestHeaders: HeaderCoding.decode(row["request_headers"]),
                    subprotocol: row["subprotocol"], extensions: row["extensions"], upgradeStatus: row["upgrade_status"],
                    responseHeaders: HeaderCoding.decode(row["response_headers"]), responseBody: body.map { [UInt8]($0) } ?? [],
                    peer: row["peer"], upstream: row["upstream"], error: row["error"],
                    openedAt: FrameTimestamp(offsetNanos: row["opened_offset_ns"], wallNanos: row["opened_at_ns"]))
                let closedOffset: Int64? = row["closed_offset_ns"]
                let closedWall: Int64? = row["closed_at_ns"]
                let close = ConnectionClose(
                    clientCode: row["client_close_code"], clientReason: row["client_close_reason"],
                    serverCode: row["server_close_code"], serverReason: row["server_close_reason"],
                    closedAt: closedOffset.map { FrameTimestamp(offsetNanos: $0, wallNanos: closedWall ?? 0) })
                return StoredConnection(id: ConnectionID(rawValue: row["id"]), info: info, close: close)
            }
        }
    }

    /// Calls `body` for every frame in sequence order (optionally of one connection), streaming from disk.
    public func forEachFrame(connection: ConnectionID? = nil, _ body: (StoredFrame) throws -> Void) throws {
        try database.read { db in
            let rows: RowCursor
            if let connection {
                rows = try Row.fetchCursor(
                    db, sql: "SELECT * FROM frames WHERE connection_id = ? ORDER BY seq", arguments: [connection.rawValue])
            } else {
                rows = try Row.fetchCursor(db, sql: "SELECT * FROM frames ORDER BY seq")
            }
            while let row = try rows.next() {
                try body(Self.frame(from: row))
            }
        }
    }

    /// All frames in sequence order (optionally of one connection).
    public func frames(connection: ConnectionID? = nil) throws -> [StoredFrame] {
        var out: [StoredFrame] = []
        try forEachFrame(connection: connection) { out.append($0) }
        return out
    }

    /// The committed batches: id, sequence range, frame count.
    public func batches() throws -> [CommittedBatch] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM batches ORDER BY id").map { row in
                CommittedBatch(id: row["id"], firstSeq: row["first_seq"], lastSeq: row["last_seq"], frameCount: row["frame_count"])
            }
        }
    }

    static func frame(from row: Row) -> StoredFrame {
        let payload: Data = row["payload"] ?? Data()
        let decodedText: String? = row["decoded"]
        let direction = FrameDirection(rawValue: row["direction"] ?? "") ?? .serverToClient
        let opcode = FrameOpcode(rawValue: row["opcode"] ?? "") ?? .binary
        return StoredFrame(
            seq: row["seq"], batch: row["batch_id"],
            frame: RecordedFrame(
                connection: ConnectionID(rawValue: row["connection_id"]), direction: direction, opcode: opcode,
                fin: row["fin"], payload: [UInt8](payload),
                timestamp: FrameTimestamp(offsetNanos: row["offset_ns"], wallNanos: row["wall_time_ns"]),
                decoded: decodedText.flatMap { try? Value(json: $0) }),
            redacted: row["redacted"])
    }

    /// Every row of every table, as JSON text lines (for comparing two recordings exactly).
    func dumpTables() throws -> [String] {
        try database.read { db in
            var out: [String] = []
            for table in RecordingSchema.tables {
                let key = table == "frames" ? "seq" : "id"
                for row in try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY \(key)") {
                    var parts: [String] = [table]
                    for (column, value) in row {
                        switch value.storage {
                        case .blob(let data): parts.append("\(column)=x'\(data.map { String(format: "%02x", $0) }.joined())'")
                        default: parts.append("\(column)=\(value)")
                        }
                    }
                    out.append(parts.joined(separator: "|"))
                }
            }
            return out
        }
    }
}
