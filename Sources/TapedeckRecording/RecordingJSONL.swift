import Foundation
import GRDB
import OrderedCollections
import TapedeckCore

/// Converts a recording to and from JSON Lines, so that it can be read in a code review.
///
/// The first line describes the recording, then one line per connection, one per committed batch, and
/// one per frame in sequence order. Importing an export rebuilds identical tables, and exporting that
/// again gives the same bytes.
public enum RecordingJSONL {
    /// Writes the export of the recording at `path`, one line at a time (each without its newline).
    public static func export(recordingAt path: String, line write: (String) throws -> Void) throws {
        let reader = try RecordingReader(path: path)
        try reader.database.read { db in
            guard let r = try Row.fetchOne(db, sql: "SELECT * FROM recording WHERE id = 1") else {
                throw RecordingError.notARecording(path)
            }
            var head: OrderedDictionary<String, Value> = ["kind": "recording"]
            head["format_version"] = int(r["format_version"])
            head["name"] = string(r["name"])
            head["tool_version"] = string(r["tool_version"])
            head["started_at_ns"] = int(r["started_at_ns"])
            head["finished_at_ns"] = int(r["finished_at_ns"])
            head["upstream"] = string(r["upstream"])
            head["scenario"] = string(r["scenario"])
            head["profile"] = string(r["profile"])
            head["tags"] = json(r["tags"])
            try write(Value.object(head).jsonString)

            for c in try Row.fetchAll(db, sql: "SELECT * FROM connections ORDER BY id") {
                var o: OrderedDictionary<String, Value> = ["kind": "connection"]
                o["id"] = int(c["id"])
                o["path"] = string(c["path"])
                o["query"] = string(c["query"])
                o["request_headers"] = json(c["request_headers"])
                o["subprotocol"] = string(c["subprotocol"])
                o["extensions"] = string(c["extensions"])
                o["upgrade_status"] = int(c["upgrade_status"])
                o["response_headers"] = json(c["response_headers"])
                let body: Data? = c["response_body"]
                o["response_body"] = payloadValue(body.map { [UInt8]($0) }, preferText: true)
                o["peer"] = string(c["peer"])
                o["upstream"] = string(c["upstream"])
                o["error"] = string(c["error"])
                for key in [
                    "opened_offset_ns", "opened_at_ns", "closed_offset_ns", "closed_at_ns", "client_close_code",
                ] {
                    o[key] = int(c[key])
                }
                o["client_close_reason"] = string(c["client_close_reason"])
                o["server_close_code"] = int(c["server_close_code"])
                o["server_close_reason"] = string(c["server_close_reason"])
                try write(Value.object(o).jsonString)
            }
            for b in try Row.fetchAll(db, sql: "SELECT * FROM batches ORDER BY id") {
                var o: OrderedDictionary<String, Value> = ["kind": "batch"]
                for key in ["id", "first_seq", "last_seq", "frame_count", "committed_at_ns"] { o[key] = int(b[key]) }
                try write(Value.object(o).jsonString)
            }
            let frames = try Row.fetchCursor(db, sql: "SELECT * FROM frames ORDER BY seq")
            while let f = try frames.next() {
                var o: OrderedDictionary<String, Value> = ["kind": "frame"]
                o["seq"] = int(f["seq"])
                o["connection"] = int(f["connection_id"])
                o["batch"] = int(f["batch_id"])
                o["direction"] = string(f["direction"])
                o["opcode"] = string(f["opcode"])
                o["fin"] = .bool(f["fin"])
                o["offset_ns"] = int(f["offset_ns"])
                o["wall_time_ns"] = int(f["wall_time_ns"])
                let payload: Data = f["payload"] ?? Data()
                let opcode: String = f["opcode"] ?? ""
                o["payload"] = payloadValue([UInt8](payload), preferText: opcode != "binary" && opcode != "close")
                if opcode == "close" {
                    let (code, reason) = ConnectionClose.parseClosePayload([UInt8](payload))
                    if let code { o["close_code"] = .int(code) }
                    if let reason { o["close_reason"] = .string(reason) }
                }
                o["decoded"] = json(f["decoded"])
                o["redacted"] = .bool(f["redacted"])
                try write(Value.object(o).jsonString)
            }
        }
    }

    /// Rebuilds a recording at `path` from export lines.
    public static func importLines(_ lines: some Sequence<String>, to path: String, overwrite: Bool = false) throws {
        try RecordingFile.prepareForWriting(path, overwrite: overwrite)
        var config = Configuration()
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
        let database = try DatabaseQueue(path: path, configuration: config)
        try RecordingSchema.migrator.migrate(database)
        try database.write { db in
            var sawHeader = false
            for (index, text) in lines.enumerated() {
                let lineNo = index + 1
                if text.allSatisfy({ $0 == " " || $0 == "\r" }) { continue }
                let v: Value
                do { v = try Value(json: text) } catch { throw RecordingError.invalidJSONL(line: lineNo, message: "\(error)") }
                guard case .object(let o) = v, let kind = o["kind"]?.stringValue else {
                    throw RecordingError.invalidJSONL(line: lineNo, message: "expected an object with a \"kind\"")
                }
                let get = Fields(object: o, line: lineNo)
                switch kind {
                case "recording":
                    sawHeader = true
                    try db.execute(
                        sql: """
                            INSERT INTO recording (id, format_version, name, tool_version, started_at_ns, finished_at_ns,
                                upstream, scenario, profile, tags) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [
                            try get.int("format_version"), try get.string("name"), try get.string("tool_version"),
                            try get.int("started_at_ns"), try get.optInt("finished_at_ns"), try get.optString("upstream"),
                            try get.optString("scenario"), try get.optString("profile"), get.jsonText("tags") ?? "[]",
                        ])
                case "connection":
                    try db.execute(
                        sql: """
                            INSERT INTO connections (id, path, query, request_headers, subprotocol, extensions, upgrade_status,
                                response_headers, response_body, peer, upstream, error, opened_offset_ns, opened_at_ns,
                                closed_offset_ns, closed_at_ns, client_close_code, client_close_reason, server_close_code,
                                server_close_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [
                            try get.int("id"), try get.string("path"), try get.optString("query"),
                            get.jsonText("request_headers") ?? "[]", try get.optString("subprotocol"),
                            try get.optString("extensions"), try get.optInt("upgrade_status"),
                            get.jsonText("response_headers") ?? "[]", try get.payload("response_body").map { Data($0) },
                            try get.optString("peer"), try get.optString("upstream"), try get.optString("error"),
                            try get.int("opened_offset_ns"), try get.int("opened_at_ns"), try get.optInt("closed_offset_ns"),
                            try get.optInt("closed_at_ns"), try get.optInt("client_close_code"),
                            try get.optString("client_close_reason"), try get.optInt("server_close_code"),
                            try get.optString("server_close_reason"),
                        ])
                case "batch":
                    try db.execute(
                        sql: "INSERT INTO batches (id, first_seq, last_seq, frame_count, committed_at_ns) VALUES (?, ?, ?, ?, ?)",
                        arguments: [
                            try get.int("id"), try get.optInt("first_seq"), try get.optInt("last_seq"),
                            try get.int("frame_count"), try get.int("committed_at_ns"),
                        ])
                case "frame":
                    let statement = try db.cachedStatement(
                        sql: """
                            INSERT INTO frames (seq, connection_id, batch_id, direction, opcode, fin, payload, offset_ns,
                                wall_time_ns, decoded, redacted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """)
                    try statement.execute(arguments: [
                        try get.int("seq"), try get.int("connection"), try get.int("batch"), try get.string("direction"),
                        try get.string("opcode"), try get.bool("fin"), Data(try get.payload("payload") ?? []),
                        try get.int("offset_ns"), try get.int("wall_time_ns"), get.jsonText("decoded"),
                        try get.bool("redacted"),
                    ])
                default:
                    throw RecordingError.invalidJSONL(line: lineNo, message: "unknown kind \"\(kind)\"")
                }
            }
            guard sawHeader else { throw RecordingError.invalidJSONL(line: 1, message: "no \"recording\" line") }
        }
        database.writeWithoutTransaction { db in _ = try? db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        try database.close()
    }

    // MARK: - Helpers

    private static func int(_ v: Int64?) -> Value { v.map { .int(Int($0)) } ?? .null }
    private static func string(_ v: String?) -> Value { v.map { .string($0) } ?? .null }
    private static func json(_ text: String?) -> Value {
        guard let text else { return .null }
        return (try? Value(json: text)) ?? .string(text)
    }

    /// A payload as `{"text": ...}` when it is valid UTF-8 text, otherwise `{"base64": ...}`.
    private static func payloadValue(_ bytes: [UInt8]?, preferText: Bool) -> Value {
        guard let bytes else { return .null }
        if preferText, let s = String(validating: bytes, as: UTF8.self) { return ["text": .string(s)] }
        return ["base64": .string(Data(bytes).base64EncodedString())]
    }

    private struct Fields {
        var object: OrderedDictionary<String, Value>
        var line: Int

        func fail(_ key: String, _ what: String) -> RecordingError {
            .invalidJSONL(line: line, message: "\"\(key)\" must be \(what)")
        }
        func int(_ key: String) throws -> Int {
            guard let v = object[key]?.intValue else { throw fail(key, "an integer") }
            return v
        }
        func optInt(_ key: String) throws -> Int? {
            guard let v = object[key], !v.isNull else { return nil }
            guard let i = v.intValue else { throw fail(key, "an integer or null") }
            return i
        }
        func string(_ key: String) throws -> String {
            guard let v = object[key]?.stringValue else { throw fail(key, "a string") }
            return v
        }
        func optString(_ key: String) throws -> String? {
            guard let v = object[key], !v.isNull else { return nil }
            guard let s = v.stringValue else { throw fail(key, "a string or null") }
            return s
        }
        func bool(_ key: String) throws -> Bool {
            guard let v = object[key]?.boolValue else { throw fail(key, "true or false") }
            return v
        }
        func jsonText(_ key: String) -> String? {
            guard let v = object[key], !v.isNull else { return nil }
            return v.jsonString
        }
        func payload(_ key: String) throws -> [UInt8]? {
            guard let v = object[key], !v.isNull else { return nil }
            if let t = v["text"]?.stringValue { return Array(t.utf8) }
            if let b = v["base64"]?.stringValue, let d = Data(base64Encoded: b) { return [UInt8](d) }
            throw fail(key, "{\"text\": ...} or {\"base64\": ...}")
        }
    }
}
