import Dispatch
import Foundation
import GRDB
import TapedeckCore
import Testing
@testable import TapedeckRecording

@Suite("RecordingWriter")
struct RecordingWriterTests {
    @Test("commits a batch every N frames, each batch whole, frames in order")
    func batchesBySize() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("batches.sqlite")
        let commits = CommitLog()
        let writer = try await RecordingWriter.open(
            path: path, metadata: RecordingMetadata(name: "batches"),
            configuration: RecordingConfiguration(batchSize: 3, flushInterval: .seconds(3600), onCommit: commits.callback))
        let conn = try await writer.beginConnection(ConnectionInfo(path: "/ws"))
        for i in 0..<7 {
            try await writer.append(
                RecordedFrame(connection: conn, direction: i % 2 == 0 ? .clientToServer : .serverToClient, opcode: .text,
                    payload: text("m\(i)")))
        }
        // Two full batches commit without waiting for the (one hour) interval.
        let early = await commits.waitForFrames(6)
        #expect(early.map(\.frameCount) == [3, 3])
        let reader = try RecordingReader(path: path)
        #expect(try reader.frames().count == 6)

        try await writer.finish()
        let batches = try RecordingReader(path: path).batches()
        #expect(batches.map(\.frameCount) == [3, 3, 1])
        #expect(batches.map(\.firstSeq) == [1, 4, 7])
        let frames = try RecordingReader(path: path).frames()
        #expect(frames.map { String(decoding: $0.frame.payload, as: UTF8.self) } == (0..<7).map { "m\($0)" })
        #expect(frames.map(\.frame.direction) == (0..<7).map { $0 % 2 == 0 ? .clientToServer : .serverToClient })
    }

    @Test("commits a partial batch once the flush interval passes")
    func batchesByTime() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("time.sqlite")
        let commits = CommitLog()
        let writer = try await RecordingWriter.open(
            path: path, metadata: RecordingMetadata(name: "time"),
            configuration: RecordingConfiguration(batchSize: 1000, flushInterval: .milliseconds(10), onCommit: commits.callback))
        let conn = try await writer.beginConnection(ConnectionInfo(path: "/ws"))
        for i in 0..<5 {
            try await writer.append(RecordedFrame(connection: conn, direction: .serverToClient, opcode: .text, payload: text("\(i)")))
        }
        let acked = await commits.waitForFrames(5)
        #expect(acked.reduce(0) { $0 + $1.frameCount } == 5)
        // Acknowledged frames are on disk while the writer is still open.
        #expect(try RecordingReader(path: path).frames().count == 5)
        try await writer.finish()
    }

    @Test("a full queue suspends append until the disk catches up; nothing is dropped")
    func backpressure() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("slow.sqlite")
        let writer = try await RecordingWriter.open(
            path: path, metadata: RecordingMetadata(name: "slow"),
            configuration: RecordingConfiguration(batchSize: 4, flushInterval: .milliseconds(5), queueCapacity: 8))
        let conn = try await writer.beginConnection(ConnectionInfo(path: "/ws"))
        try await writer.append(RecordedFrame(connection: conn, direction: .serverToClient, opcode: .text, payload: text("first")))
        while writer.statistics.framesCommitted < 1 { try await Task.sleep(for: .milliseconds(5)) }

        // Another connection holds the write lock: the disk is "slow".
        let lock = WriteLockHolder(path: path)
        try await lock.acquire()
        var full = false
        for i in 0..<8 {
            full = try writer.enqueue(RecordedFrame(connection: conn, direction: .serverToClient, opcode: .binary, payload: [UInt8(i)]))
        }
        #expect(full, "the queue reports full at capacity")
        let appender = Task {
            try await writer.append(RecordedFrame(connection: conn, direction: .serverToClient, opcode: .text, payload: text("last")))
        }
        for _ in 0..<20 { await Task.yield() }
        // While no batch can commit, the suspended append cannot have been accepted.
        #expect(writer.statistics.framesAccepted == 9)
        lock.release()
        try await appender.value
        let stats = try await writer.finish()
        #expect(stats.framesAccepted == 10)
        #expect(stats.framesCommitted == 10)
        let payloads = try RecordingReader(path: path).frames().map(\.frame.payload)
        #expect(payloads == [text("first")] + (0..<8).map { [UInt8($0)] } + [text("last")])
    }

    @Test("decodes JSON text, stores close codes and connection details, stamps monotonic offsets")
    func readerSeesEverything() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("read.sqlite")
        let writer = try await RecordingWriter.open(
            path: path, metadata: RecordingMetadata(name: "read", upstream: "ws://127.0.0.1:1/ws", profile: "neurallog", tags: ["a", "b"]))
        let conn = try await writer.beginConnection(
            ConnectionInfo(path: "/ws", query: "room=1", subprotocol: "v1", peer: "127.0.0.1:5000"))
        try await writer.append(RecordedFrame(connection: conn, direction: .serverToClient, opcode: .text, payload: text(#"{"type":"log","n":1}"#)))
        try await writer.append(RecordedFrame(connection: conn, direction: .clientToServer, opcode: .text, fin: false, payload: text(#"{"action":"#)))
        try await writer.append(RecordedFrame(connection: conn, direction: .clientToServer, opcode: .continuation, payload: text(#""ping"}"#)))
        try await writer.append(RecordedFrame(connection: conn, direction: .clientToServer, opcode: .close, payload: [0x0F, 0xA0] + text("bye")))
        try await writer.endConnection(conn, close: ConnectionClose(clientCode: 4000, clientReason: "bye", serverCode: 4000, serverReason: "bye"))
        try await writer.finish()

        let reader = try RecordingReader(path: path)
        #expect(try reader.integrityCheck() == "ok")
        let rec = try reader.recording()
        #expect(rec.metadata.profile == "neurallog")
        #expect(rec.metadata.tags == ["a", "b"])
        #expect(rec.finishedAtNanos != nil)
        let frames = try reader.frames()
        #expect(frames.map(\.frame.opcode) == [.text, .text, .continuation, .close])
        #expect(frames[0].frame.decoded == ["type": "log", "n": 1])
        #expect(frames[1].frame.decoded == nil)
        #expect(frames[2].frame.decoded == ["action": "ping"], "a fragmented message is decoded on its last fragment")
        let offsets = frames.compactMap { $0.frame.timestamp?.offsetNanos }
        #expect(offsets == offsets.sorted())
        let c = try #require(reader.connections().first)
        #expect(c.info.subprotocol == "v1")
        #expect(c.info.peer == "127.0.0.1:5000")
        #expect(c.close.clientCode == 4000 && c.close.serverReason == "bye")
        #expect(RecordingSummary.messageType(frames[2].frame.decoded ?? .null) == "ping")
    }

    @Test("inspect shows the subprotocol and the extensions agreed on each connection")
    func inspectShowsWhatTheUpgradeAgreed() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("agreed.sqlite")
        let writer = try await RecordingWriter.open(path: path, metadata: RecordingMetadata(name: "agreed"))
        let deflate = "permessage-deflate; server_no_context_takeover; client_max_window_bits=12"
        let first = try await writer.beginConnection(ConnectionInfo(path: "/graphql", subprotocol: "graphql-transport-ws", extensions: deflate))
        try await writer.endConnection(first, close: ConnectionClose(clientCode: 1000, serverCode: 1000))
        let second = try await writer.beginConnection(ConnectionInfo(path: "/plain"))
        try await writer.endConnection(second, close: ConnectionClose(clientCode: 1000, serverCode: 1000))
        try await writer.finish()

        let summary = try RecordingSummary(path: path)
        let lines = summary.text.split(separator: "\n").map(String.init)
        let graphql = try #require(lines.first { $0.contains("#1 /graphql") })
        #expect(graphql.contains("subprotocol graphql-transport-ws  extensions \"\(deflate)\"  c2s 0"))
        let plain = try #require(lines.first { $0.contains("#2 /plain") })
        #expect(!plain.contains("subprotocol") && !plain.contains("extensions"))
        let json = summary.json["connections"]?.arrayValue ?? []
        #expect(json.first?["extensions"] == .string(deflate))
        #expect(json.first?["subprotocol"] == .string("graphql-transport-ws"))
        #expect(json.last?["extensions"] == .null)
    }

    @Test("JSON text without secrets is stored as its own decoded column, queryable with SQLite's JSON functions")
    func jsonTextIsItsOwnDecodedColumn() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("verbatim.sqlite")
        let writer = try await RecordingWriter.open(path: path, metadata: RecordingMetadata(name: "verbatim"))
        let conn = try await writer.beginConnection(ConnectionInfo(path: "/ws"))
        let plain = #"{ "type": "metric", "data": {"value": 1.50, "keys": ["token"]} }"#
        let secret = #"{"type":"login","data":{"Refresh-Token":"abc"}}"#
        for payload in [plain, secret, "[1, 2", #""just a string""#] {
            try await writer.append(RecordedFrame(connection: conn, direction: .serverToClient, opcode: .text, payload: text(payload)))
        }
        try await writer.finish()

        let db = try DatabaseQueue(path: path)
        let rows = try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT payload, decoded, redacted, json_extract(decoded, '$.type') AS type FROM frames ORDER BY seq")
        }
        #expect(rows.count == 4)
        #expect(rows[0]["decoded"] as String? == plain, "stored as sent, not re-printed")
        #expect(rows[0]["type"] as String? == "metric")
        #expect(rows[0]["redacted"] as Bool? == false)
        #expect(rows[1]["decoded"] as String? == #"{"type":"login","data":{"Refresh-Token":"[REDACTED]"}}"#)
        #expect(rows[1]["redacted"] as Bool? == true)
        #expect(String(decoding: rows[1]["payload"] as Data? ?? Data(), as: UTF8.self).contains("abc") == false)
        #expect(rows[2]["decoded"] as String? == nil, "not JSON")
        #expect(rows[3]["decoded"] as String? == nil, "JSON, but not an object or a list")
        let frames = try RecordingReader(path: path).frames()
        #expect(frames[0].frame.decoded == ["type": "metric", "data": ["value": 1.5, "keys": ["token"]]])
    }

    @Test("the frames table refuses a direction or an opcode outside the format, as other tools writing to it would")
    func framesTableChecksItsEnumerations() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("checks.sqlite")
        let writer = try await RecordingWriter.open(path: path, metadata: RecordingMetadata(name: "checks"))
        let conn = try await writer.beginConnection(ConnectionInfo(path: "/ws"))
        try await writer.append(RecordedFrame(connection: conn, direction: .serverToClient, opcode: .text, payload: text("ok")))
        try await writer.finish()

        let db = try DatabaseQueue(path: path)
        func insert(direction: String, opcode: String, seq: Int) throws {
            try db.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO frames (seq, connection_id, batch_id, direction, opcode, payload, offset_ns, wall_time_ns)
                        VALUES (?, 1, 1, ?, ?, x'00', 0, 0)
                        """, arguments: [seq, direction, opcode])
            }
        }
        for (seq, direction) in ["c2s", "s2c"].enumerated() {
            for (n, opcode) in ["text", "binary", "continuation", "ping", "pong", "close"].enumerated() {
                try insert(direction: direction, opcode: opcode, seq: 100 + seq * 10 + n)
            }
        }
        #expect(throws: DatabaseError.self) { try insert(direction: "up", opcode: "text", seq: 200) }
        #expect(throws: DatabaseError.self) { try insert(direction: "c2s", opcode: "TEXT", seq: 201) }
        let stored = try await db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM frames") }
        #expect(stored == 13)
    }

    @Test("refuses to overwrite an existing recording unless asked")
    func noSilentOverwrite() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("x.sqlite")
        try await RecordingWriter.open(path: path, metadata: RecordingMetadata(name: "x")).finish()
        await #expect(throws: RecordingError.alreadyExists(path)) {
            try await RecordingWriter.open(path: path, metadata: RecordingMetadata(name: "y"))
        }
        var config = RecordingConfiguration()
        config.overwrite = true
        try await RecordingWriter.open(path: path, metadata: RecordingMetadata(name: "y"), configuration: config).finish()
        #expect(try RecordingReader(path: path).recording().metadata.name == "y")
    }

    @Test("an output path in a missing folder, or under a file, names the path and the reason")
    func outputPathErrorsNameThePath() async throws {
        let dir = try TemporaryDirectory()
        let missing = dir.path("nope/x.sqlite")
        await #expect(throws: RecordingError.invalidArgument("cannot create \(missing): the folder \(dir.path("nope")) does not exist")) {
            try await RecordingWriter.open(path: missing, metadata: RecordingMetadata(name: "x"))
        }
        let file = dir.path("file")
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        await #expect(throws: RecordingError.invalidArgument("cannot create \(file)/x.sqlite: \(file) is not a folder")) {
            try await RecordingWriter.open(path: file + "/x.sqlite", metadata: RecordingMetadata(name: "x"))
        }
    }

    @Test("--force replaces only a recording: a directory or another file is an error and is left as it was")
    func overwriteOnlyRecordings() async throws {
        let dir = try TemporaryDirectory()
        var force = RecordingConfiguration()
        force.overwrite = true
        // A directory with a file inside: the old code removed it recursively.
        let folder = dir.path("out")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: folder + "/notes.txt"))
        await #expect(throws: RecordingError.self) {
            try await RecordingWriter.open(path: folder, metadata: RecordingMetadata(name: "x"), configuration: force)
        }
        #expect(try String(contentsOfFile: folder + "/notes.txt", encoding: .utf8) == "keep me")
        #expect(throws: RecordingError.self) { try RecordingJSONL.importLines([], to: folder, overwrite: true) }
        #expect(FileManager.default.fileExists(atPath: folder + "/notes.txt"))

        // A file that is not a recording is kept too.
        let notes = dir.path("notes.sqlite")
        try Data("not sqlite".utf8).write(to: URL(fileURLWithPath: notes))
        await #expect(throws: RecordingError.self) {
            try await RecordingWriter.open(path: notes, metadata: RecordingMetadata(name: "x"), configuration: force)
        }
        #expect(try String(contentsOfFile: notes, encoding: .utf8) == "not sqlite")
    }

    @Test("a message left unfinished by a close is committed with its connection and does not stall the queue", .timeLimit(.minutes(1)))
    func abandonedFragmentsAreReleased() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("fragments.sqlite")
        let commits = CommitLog()
        let writer = try await RecordingWriter.open(
            path: path, metadata: RecordingMetadata(name: "fragments"),
            configuration: RecordingConfiguration(
                batchSize: 4, flushInterval: .milliseconds(5), queueCapacity: 8, onCommit: commits.callback))
        // More abandoned fragments than the queue holds: before the fix, append suspended for good here.
        for i in 0..<20 {
            let conn = try await writer.beginConnection(ConnectionInfo(path: "/ws"))
            try await writer.append(
                RecordedFrame(connection: conn, direction: .serverToClient, opcode: .text, fin: false, payload: text("part-\(i)")))
            try await writer.endConnection(conn, close: ConnectionClose(serverCode: 1009))
        }
        let conn = try await writer.beginConnection(ConnectionInfo(path: "/ws"))
        try await writer.append(RecordedFrame(connection: conn, direction: .serverToClient, opcode: .text, payload: text("whole")))
        // Committed while the writer is still open, not only at shutdown.
        _ = await commits.waitForFrames(21)
        let frames = try RecordingReader(path: path).frames()
        #expect(frames.count == 21)
        #expect(frames.filter { !$0.frame.fin }.count == 20)
        try await writer.finish()
    }

    @Test("appending after finish throws instead of dropping the frame")
    func appendAfterFinish() async throws {
        let dir = try TemporaryDirectory()
        let writer = try await RecordingWriter.open(path: dir.path("f.sqlite"), metadata: RecordingMetadata(name: "f"))
        let conn = try await writer.beginConnection(ConnectionInfo(path: "/"))
        try await writer.finish()
        await #expect(throws: RecordingError.writerFinished) {
            try await writer.append(RecordedFrame(connection: conn, direction: .clientToServer, opcode: .text, payload: []))
        }
    }
}

/// Holds SQLite's write lock on a file from another connection, on a thread of its own.
final class WriteLockHolder: Sendable {
    let path: String
    private let locked = DispatchSemaphore(value: 0)
    private let released = DispatchSemaphore(value: 0)

    init(path: String) { self.path = path }

    func acquire() async throws {
        let thread = Thread { [self] in
            let queue = try? DatabaseQueue(path: path)
            try? queue?.inDatabase { db in
                try db.execute(sql: "BEGIN IMMEDIATE")
                locked.signal()
                released.wait()
                try db.execute(sql: "COMMIT")
            }
        }
        thread.start()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async { [locked] in
                locked.wait()
                c.resume()
            }
        }
    }

    func release() { released.signal() }
}
