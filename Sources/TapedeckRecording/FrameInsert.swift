import GRDB
import GRDBSQLite

/// The writer's hot path: one row of `frames` per call, bound straight to SQLite's C API on a
/// statement prepared once per connection. GRDB's `StatementArguments` would box each of the eleven
/// values and copy the payload into a `Data`; here the payload and the decoded text are bound in place
/// (`SQLITE_STATIC`) for the duration of the step.
struct FrameInsert {
    private let db: Database
    private let statement: Statement
    private let batchID: Int64?

    static let sql = """
        INSERT INTO frames (seq, connection_id, batch_id, direction, opcode, fin, payload, offset_ns, wall_time_ns, decoded, redacted)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    init(db: Database, batchID: Int64?) throws {
        self.db = db
        self.statement = try db.cachedStatement(sql: Self.sql)
        self.batchID = batchID
    }

    func insert(_ f: PreparedFrame) throws {
        let s = statement.sqliteStatement
        sqlite3_reset(s)
        let frame = f.pending.frame
        let stamp = frame.timestamp ?? FrameTimestamp(offsetNanos: 0, wallNanos: 0)
        sqlite3_bind_int64(s, 1, f.pending.seq)
        sqlite3_bind_int64(s, 2, frame.connection.rawValue)
        if let batchID { sqlite3_bind_int64(s, 3, batchID) } else { sqlite3_bind_null(s, 3) }
        Self.bind(frame.direction.sqlText, to: s, at: 4)
        Self.bind(frame.opcode.sqlText, to: s, at: 5)
        sqlite3_bind_int(s, 6, frame.fin ? 1 : 0)
        sqlite3_bind_int64(s, 8, stamp.offsetNanos)
        sqlite3_bind_int64(s, 9, stamp.wallNanos)
        sqlite3_bind_int(s, 11, f.redacted ? 1 : 0)
        let code: CInt = f.payload.withUnsafeBytes { payload in
            // An empty payload is an empty blob, never NULL (a nil pointer would bind NULL).
            if let base = payload.baseAddress, payload.count > 0 {
                sqlite3_bind_blob(s, 7, base, CInt(payload.count), nil)
            } else {
                sqlite3_bind_zeroblob(s, 7, 0)
            }
            if f.decodedIsPayload, let base = payload.baseAddress {
                sqlite3_bind_text(s, 10, base.assumingMemoryBound(to: CChar.self), CInt(payload.count), nil)
                return sqlite3_step(s)
            }
            guard var decoded = f.decodedJSON else {
                sqlite3_bind_null(s, 10)
                return sqlite3_step(s)
            }
            return decoded.withUTF8 { text in
                if let base = text.baseAddress {
                    base.withMemoryRebound(to: CChar.self, capacity: text.count) {
                        _ = sqlite3_bind_text(s, 10, $0, CInt(text.count), nil)
                    }
                } else {
                    sqlite3_bind_text(s, 10, "", 0, nil)
                }
                return sqlite3_step(s)
            }
        }
        // Nothing may point at the payload or the text once they go out of scope.
        sqlite3_clear_bindings(s)
        guard code == SQLITE_DONE else {
            let message = String(cString: sqlite3_errmsg(db.sqliteConnection))
            sqlite3_reset(s)
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: Self.sql)
        }
    }

    private static func bind(_ text: StaticString, to s: OpaquePointer?, at index: CInt) {
        text.withUTF8Buffer { b in
            _ = b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) {
                sqlite3_bind_text(s, index, $0, CInt(b.count), nil)
            }
        }
    }
}

extension FrameDirection {
    /// The column value, as a literal that lives for the whole program (bound without a copy).
    var sqlText: StaticString {
        switch self {
        case .clientToServer: "c2s"
        case .serverToClient: "s2c"
        }
    }
}

extension FrameOpcode {
    /// The column value, as a literal that lives for the whole program (bound without a copy).
    var sqlText: StaticString {
        switch self {
        case .text: "text"
        case .binary: "binary"
        case .continuation: "continuation"
        case .ping: "ping"
        case .pong: "pong"
        case .close: "close"
        }
    }
}
