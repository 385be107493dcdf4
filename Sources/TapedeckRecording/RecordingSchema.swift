import GRDB

/// The SQLite schema of a recording, as versioned migrations.
enum RecordingSchema {
    /// The current format version, stored in `recording.format_version`.
    static let formatVersion = 1

    ///
    /// The `frames` checks are written as `=` chains, not `IN (...)` lists: SQLite builds an ephemeral
    /// table for an `IN` list each time the insert statement runs, which made the checks the largest
    /// single cost of recording a frame. The rule is the same.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE recording (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        format_version INTEGER NOT NULL,
                        name TEXT NOT NULL,
                        tool_version TEXT NOT NULL,
                        started_at_ns INTEGER NOT NULL,
                        finished_at_ns INTEGER,
                        upstream TEXT,
                        scenario TEXT,
                        profile TEXT,
                        tags TEXT NOT NULL DEFAULT '[]'
                    );
                    CREATE TABLE connections (
                        id INTEGER PRIMARY KEY,
                        path TEXT NOT NULL,
                        query TEXT,
                        request_headers TEXT NOT NULL DEFAULT '[]',
                        subprotocol TEXT,
                        extensions TEXT,
                        upgrade_status INTEGER,
                        response_headers TEXT NOT NULL DEFAULT '[]',
                        response_body BLOB,
                        peer TEXT,
                        upstream TEXT,
                        error TEXT,
                        opened_offset_ns INTEGER NOT NULL,
                        opened_at_ns INTEGER NOT NULL,
                        closed_offset_ns INTEGER,
                        closed_at_ns INTEGER,
                        client_close_code INTEGER,
                        client_close_reason TEXT,
                        server_close_code INTEGER,
                        server_close_reason TEXT
                    );
                    CREATE TABLE batches (
                        id INTEGER PRIMARY KEY,
                        first_seq INTEGER,
                        last_seq INTEGER,
                        frame_count INTEGER NOT NULL,
                        committed_at_ns INTEGER NOT NULL
                    );
                    CREATE TABLE frames (
                        seq INTEGER PRIMARY KEY,
                        connection_id INTEGER NOT NULL REFERENCES connections(id),
                        batch_id INTEGER NOT NULL REFERENCES batches(id),
                        direction TEXT NOT NULL CHECK (direction = 'c2s' OR direction = 's2c'),
                        opcode TEXT NOT NULL CHECK (opcode = 'text' OR opcode = 'binary' OR opcode = 'continuation'
                            OR opcode = 'ping' OR opcode = 'pong' OR opcode = 'close'),
                        fin INTEGER NOT NULL DEFAULT 1,
                        payload BLOB NOT NULL,
                        offset_ns INTEGER NOT NULL,
                        wall_time_ns INTEGER NOT NULL,
                        decoded TEXT,
                        redacted INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE INDEX frames_by_connection ON frames(connection_id, seq);
                    """
            )
        }
        return migrator
    }

    /// The tables in the order export and comparison use.
    static let tables = ["recording", "connections", "batches", "frames"]
}
