import TapedeckCore
import Foundation
import GRDB
import Synchronization

/// Writes one recording (a SQLite file) through a single batched writer.
///
/// Frames are queued in memory and committed in batches: a batch is written in one transaction once it
/// holds `batchSize` frames or `flushInterval` has passed. A frame is *acknowledged* once its batch has
/// committed (`statistics.framesCommitted`, `onCommit`). The queue is bounded: `append` suspends while
/// `queueCapacity` frames wait, so a slow disk slows the producers instead of growing memory. Nothing is
/// dropped silently: if a commit fails, every later call throws and `finish()` reports the failure.
///
/// ```swift
/// let writer = try await RecordingWriter.open(path: "x.sqlite", metadata: .init(name: "demo"))
/// let id = try await writer.beginConnection(ConnectionInfo(path: "/ws"))
/// try await writer.append(RecordedFrame(connection: id, direction: .serverToClient, opcode: .text, payload: bytes))
/// try await writer.endConnection(id, close: ConnectionClose(serverCode: 1000))
/// try await writer.finish()
/// ```
public final class RecordingWriter: Sendable {
    let database: DatabaseQueue
    let configuration: RecordingConfiguration
    let startInstant: ContinuousClock.Instant
    let startWallNanos: Int64
    private let state: Mutex<WriterState>
    private let wake: AsyncStream<Void>.Continuation
    private let wakeStream: Mutex<AsyncStream<Void>?>
    private let loopTask = Mutex<Task<Void, Never>?>(nil)

    /// Creates the file (failing if it exists unless `configuration.overwrite`), migrates the schema,
    /// writes the metadata row and starts the writer's flush task.
    public static func open(
        path: String, metadata: RecordingMetadata, configuration: RecordingConfiguration = RecordingConfiguration()
    ) async throws -> RecordingWriter {
        try RecordingFile.prepareForWriting(path, overwrite: configuration.overwrite)
        var config = Configuration()
        let synchronous = configuration.durability == .full ? "FULL" : "NORMAL"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
        }
        config.label = "tapedeck.recording"
        // The writer itself keeps every frame's connection and batch rows in the same or an earlier
        // transaction; SQLite's foreign-key checks would cost two index lookups per frame for nothing.
        config.foreignKeysEnabled = false
        // Wait for another process's lock (e.g. a `sqlite3` shell) instead of failing the batch at once.
        config.busyMode = .timeout(10)
        let database: DatabaseQueue
        do {
            database = try DatabaseQueue(path: path, configuration: config)
            try RecordingSchema.migrator.migrate(database)
        } catch let error as DatabaseError {
            throw RecordingError.invalidArgument("cannot write the recording \(path): \(error.message ?? "\(error.resultCode)")")
        }
        let writer = RecordingWriter(database: database, configuration: configuration)
        let startWall = writer.startWallNanos
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO recording (id, format_version, name, tool_version, started_at_ns, upstream, scenario, profile, tags)
                    VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    RecordingSchema.formatVersion, metadata.name, metadata.toolVersion, startWall,
                    metadata.upstream.map { configuration.redaction.redactLogText($0) }, metadata.scenario,
                    metadata.profile, Value.array(metadata.tags.map { .string($0) }).jsonString,
                ]
            )
        }
        writer.startLoop()
        return writer
    }

    private init(database: DatabaseQueue, configuration: RecordingConfiguration) {
        self.database = database
        self.configuration = configuration
        self.startInstant = .now
        self.startWallNanos = WallClock.nowNanos()
        self.state = Mutex(WriterState())
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.wake = continuation
        self.wakeStream = Mutex(stream)
    }

    /// The capture time of "now": monotonic offset from the recording's start and wall time.
    public func timestamp() -> FrameTimestamp {
        let elapsed = ContinuousClock.now - startInstant
        let (seconds, attoseconds) = elapsed.components
        return FrameTimestamp(
            offsetNanos: seconds * 1_000_000_000 + attoseconds / 1_000_000_000, wallNanos: WallClock.nowNanos())
    }

    /// Counters for progress displays.
    public var statistics: RecordingStatistics { state.withLock { $0.statistics } }

    /// Registers a connection and returns its id. The row is written with the next batch.
    public func beginConnection(_ info: ConnectionInfo) async throws -> ConnectionID {
        try beginConnectionNow(info)
    }

    /// Queues a frame. Suspends while the queue is full (backpressure); throws once the writer failed or finished.
    public func append(_ frame: RecordedFrame) async throws {
        while true {
            let mustWait: Bool = try state.withLock { s in
                try s.checkUsable()
                return s.pendingFrames >= configuration.queueCapacity
            }
            if !mustWait { break }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.pendingFrames < configuration.queueCapacity || s.failure != nil || s.finishing { return true }
                    s.spaceWaiters.append({ c.resume() })
                    return false
                }
                if resumeNow { c.resume() }
            }
        }
        _ = try enqueue(frame)
    }

    /// Records how a connection ended. Written with the next batch.
    public func endConnection(_ id: ConnectionID, close: ConnectionClose) async throws {
        try endConnectionNow(id, close: close)
    }

    /// Commits everything queued, marks the recording finished and closes the file.
    /// Throws if any batch failed to commit.
    @discardableResult
    public func finish() async throws -> RecordingStatistics {
        let alreadyFinishing = state.withLock { s -> Bool in
            defer { s.finishing = true }
            // Messages whose last fragment never came are stored as far as they got.
            for (_, held) in s.fragments.sorted(by: { ($0.value.first?.seq ?? 0) < ($1.value.first?.seq ?? 0) }) {
                s.ops.append(.message(held))
                s.readyFrames += held.count
            }
            s.fragments = [:]
            return s.finishing
        }
        wake.finish()
        let task = loopTask.withLock { $0 }
        await task?.value
        let (waiters, failure) = state.withLock { s in
            defer { s.spaceWaiters = [] }
            return (s.spaceWaiters, s.failure)
        }
        waiters.forEach { $0() }
        if let failure { throw failure }
        if !alreadyFinishing {
            let end = timestamp()
            try await database.write { db in
                try db.execute(sql: "UPDATE recording SET finished_at_ns = ? WHERE id = 1", arguments: [end.wallNanos])
            }
            try await database.writeWithoutTransaction { db in
                _ = try? db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            }
            try database.close()
        }
        return statistics
    }

    // MARK: - Synchronous queueing (for event-loop callers in this module)

    func beginConnectionNow(_ info: ConnectionInfo) throws -> ConnectionID {
        let stamp = info.openedAt ?? timestamp()
        return try state.withLock { s in
            try s.checkUsable()
            let id = s.nextConnection
            s.nextConnection += 1
            s.knownConnections.insert(id)
            s.ops.append(.begin(id, info, stamp))
            s.statistics.connections += 1
            return ConnectionID(rawValue: id)
        }
    }

    func endConnectionNow(_ id: ConnectionID, close: ConnectionClose) throws {
        let stamp = close.closedAt ?? timestamp()
        try state.withLock { s in
            try s.checkUsable()
            guard s.knownConnections.contains(id.rawValue) else { throw RecordingError.unknownConnection(id.rawValue) }
            // A message left unfinished by the close is stored as far as it got, now: held back, its
            // fragments would count against the queue until shutdown and stall every connection.
            s.releaseFragments(of: id.rawValue)
            s.ops.append(.end(id.rawValue, close, stamp))
        }
        wake.yield()
    }

    /// Queues a frame without waiting. Returns `true` when the queue is at or over capacity: the caller
    /// should stop reading from its source and call `whenSpaceAvailable`.
    package func enqueue(_ frame: RecordedFrame) throws -> Bool {
        let stamp = frame.timestamp ?? timestamp()
        let (full, signal) = try state.withLock { s -> (Bool, Bool) in
            try s.checkUsable()
            guard s.knownConnections.contains(frame.connection.rawValue) else {
                throw RecordingError.unknownConnection(frame.connection.rawValue)
            }
            var f = frame
            f.timestamp = stamp
            let seq = s.nextSeq
            s.nextSeq += 1
            s.pendingFrames += 1
            s.statistics.framesAccepted += 1
            s.push(PendingFrame(seq: seq, frame: f))
            return (s.pendingFrames >= configuration.queueCapacity, s.readyFrames >= configuration.batchSize)
        }
        if signal { wake.yield() }
        return full
    }

    /// Calls `callback` once the queue has room again (at once if it has room now).
    package func whenSpaceAvailable(_ callback: @escaping @Sendable () -> Void) {
        let now = state.withLock { s -> Bool in
            if s.pendingFrames < configuration.queueCapacity || s.failure != nil || s.finishing { return true }
            s.spaceWaiters.append(callback)
            return false
        }
        if now { callback() }
    }

    // MARK: - The flush loop

    private func startLoop() {
        guard let stream = wakeStream.withLock({ s -> AsyncStream<Void>? in defer { s = nil }; return s }) else { return }
        let interval = configuration.flushInterval
        let task = Task { [self] in
            await withTaskGroup(of: Void.self) { group in
                group.addTask { [self] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: interval)
                        state.withLock { $0.flushAllRequested = true }
                        wake.yield()
                    }
                }
                for await _ in stream {
                    if !(await self.drain()) { break }
                }
                _ = await self.drain()
                group.cancelAll()
            }
        }
        loopTask.withLock { $0 = task }
    }

    /// Commits everything ready, one batch per transaction. Returns false after a failure.
    ///
    /// Batches are committed in order, one at a time, but the next batch is taken and prepared
    /// (redaction, the decoded column) while the one before it is being written: the two costs overlap
    /// on two threads instead of adding up.
    private func drain() async -> Bool {
        // The batch being written: its task acknowledges it (``committed(_:batchID:)``) as soon as it
        // commits, and returns false if it failed.
        var writing: Task<Bool, Never>?
        while true {
            let next = takeBatch().map { ops, batchID in (ops.map(prepare), batchID) }
            let wasWriting = writing != nil
            if let task = writing {
                writing = nil
                guard await task.value else { return false }
            }
            guard let (prepared, batchID) = next else {
                // Frames that came in while the last batch was written are taken on one more pass.
                if wasWriting { continue }
                return state.withLock { $0.failure == nil }
            }
            writing = Task { [self] in
                do {
                    let batch = try await database.write { db in
                        try Self.write(prepared, batchID: batchID, db: db)
                    }
                    committed(batch, batchID: batchID)
                    return true
                } catch {
                    failed(error)
                    return false
                }
            }
        }
    }

    /// Removes the next batch from the queue: a full one, or what is left when a tick or `finish()`
    /// asked for everything. `nil` when there is nothing to write now or the writer failed.
    private func takeBatch() -> ([WriterOp], Int64?)? {
        state.withLock { s -> ([WriterOp], Int64?)? in
            if s.failure != nil { return nil }
            // Between ticks only full batches are written; a tick or finish() writes what is left.
            if s.flushAllRequested || s.finishing {
                s.flushingAll = true
                s.flushAllRequested = false
            }
            guard s.flushingAll || s.readyFrames >= configuration.batchSize else { return nil }
            let ops = s.takeBatch(maxFrames: configuration.batchSize)
            if ops.isEmpty {
                s.flushingAll = false
                return nil
            }
            let hasFrames = ops.contains { op in
                switch op {
                case .frame: true
                case .message(let fs): !fs.isEmpty
                default: false
                }
            }
            var batchID: Int64?
            if hasFrames {
                batchID = s.nextBatch
                s.nextBatch += 1
            }
            return (ops, batchID)
        }
    }

    /// Acknowledges a committed batch: counters, producers waiting for room, `onCommit`.
    private func committed(_ batch: BatchResult, batchID: Int64?) {
        let waiters = state.withLock { s -> [@Sendable () -> Void] in
            s.pendingFrames -= batch.frameCount
            s.statistics.framesCommitted += batch.frameCount
            s.statistics.bytesCommitted += batch.bytes
            if batchID != nil { s.statistics.batchesCommitted += 1 }
            guard s.pendingFrames < configuration.queueCapacity else { return [] }
            defer { s.spaceWaiters = [] }
            return s.spaceWaiters
        }
        waiters.forEach { $0() }
        if let batchID, let onCommit = configuration.onCommit {
            // Measured once per batch: from its oldest frame's timestamp until now.
            let wait = batch.oldestOffsetNanos.map { Duration.nanoseconds(max(0, timestamp().offsetNanos - $0)) }
            onCommit(
                CommittedBatch(
                    id: batchID, firstSeq: batch.firstSeq, lastSeq: batch.lastSeq, frameCount: batch.frameCount,
                    oldestFrameWait: wait))
        }
    }

    /// A batch could not be committed: the writer fails, and everyone waiting is woken to see it.
    private func failed(_ error: any Error) {
        let waiters = state.withLock { s -> [@Sendable () -> Void] in
            let lost = s.pendingFrames
            s.failure = .writerFailed("\(error) (\(lost) queued frames not stored)")
            defer { s.spaceWaiters = [] }
            return s.spaceWaiters
        }
        waiters.forEach { $0() }
    }

    /// Applies redaction and the decoder (off the producers' threads).
    private func prepare(_ op: WriterOp) -> PreparedOp {
        let redaction = configuration.redaction
        switch op {
        case .begin(let id, var info, let stamp):
            info.query = info.query.map(redaction.redactQuery)
            info.requestHeaders = redaction.redactHeaders(info.requestHeaders)
            info.responseHeaders = redaction.redactHeaders(info.responseHeaders)
            info.upstream = info.upstream.map(redaction.redactLogText)
            info.error = info.error.map(redaction.redactLogText)
            return .begin(id, info, stamp)
        case .end(let id, var close, let stamp):
            close.clientReason = close.clientReason.map(redaction.redactText)
            close.serverReason = close.serverReason.map(redaction.redactText)
            return .end(id, close, stamp)
        case .frame(let pending):
            // A close frame's reason may carry a secret.
            if pending.frame.opcode == .close { return .message(prepareMessage([pending])) }
            return .frame(pending)
        case .message(let fragments):
            return .message(prepareMessage(fragments))
        }
    }

    private func prepareMessage(_ fragments: [PendingFrame]) -> [PreparedFrame] {
        let redaction = configuration.redaction
        guard let first = fragments.first, let last = fragments.last else { return [] }
        let opcode = first.frame.opcode
        var out = fragments.map { PreparedFrame(pending: $0) }
        guard opcode == .text || opcode == .binary else {
            // Control frames are stored as they are, but for secrets in a close reason.
            if opcode == .close, first.frame.payload.count > 2 {
                let reason = String(decoding: first.frame.payload[2...], as: UTF8.self)
                let redacted = redaction.redactText(reason)
                if redacted != reason {
                    out[0].payload = Array(first.frame.payload[..<2]) + Array(redacted.utf8)
                    out[0].redacted = true
                }
            }
            return out
        }
        let whole: [UInt8] = fragments.count == 1 ? first.frame.payload : fragments.flatMap { $0.frame.payload }
        var decoded = last.frame.decoded
        if opcode == .text {
            // The common case, and the hot path: JSON text in which nothing is secret is its own decoded
            // value. Checking it is much cheaper than parsing it into a value and printing it again.
            if decoded == nil, redaction.payloadPaths.isEmpty, Self.startsLikeJSONContainer(whole) {
                switch JSONScanner.scan(whole, flagKeyUTF8: redaction.isSecret(utf8:)) {
                case .invalid:
                    return out
                case .valid(flagged: false):
                    // Its decoded column is its own text: bound from the payload, without a copy.
                    if fragments.count == 1 {
                        out[0].decodedIsPayload = true
                    } else {
                        out[out.count - 1].decodedJSON = String(decoding: whole, as: UTF8.self)
                    }
                    return out
                case .valid(flagged: true):
                    break
                }
            }
            // Otherwise JSON text is parsed once, for redaction and for the decoded column.
            if let parsed = RecordingConfiguration.jsonTextDecoder(.text, whole) {
                if let r = redaction.redactPayload(parsed: parsed) {
                    for i in out.indices {
                        out[i].payload = i == 0 ? r.bytes : []
                        out[i].redacted = true
                    }
                    out[out.count - 1].decodedJSON = r.value.jsonString
                    return out
                }
                if decoded == nil { decoded = parsed }
            }
        } else if decoded == nil {
            decoded = configuration.decoder?(opcode, whole)
        }
        if let d = decoded, let r = redaction.redactValue(d) {
            decoded = r
            if opcode == .binary { for i in out.indices { out[i].redacted = true } }
        }
        out[out.count - 1].decodedJSON = decoded?.jsonString
        return out
    }

    private static func startsLikeJSONContainer(_ bytes: [UInt8]) -> Bool {
        guard let first = bytes.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) else { return false }
        return first == UInt8(ascii: "{") || first == UInt8(ascii: "[")
    }

    struct BatchResult: Sendable {
        var firstSeq: Int64?
        var lastSeq: Int64?
        var frameCount = 0
        var bytes = 0
        /// The smallest frame timestamp (offset from the recording's start) in the batch.
        var oldestOffsetNanos: Int64?
    }

    private static func write(_ ops: [PreparedOp], batchID: Int64?, db: Database) throws -> BatchResult {
        var result = BatchResult()
        let insertFrame = try FrameInsert(db: db, batchID: batchID)
        func insert(_ f: PreparedFrame) throws {
            try insertFrame.insert(f)
            result.bytes += f.payload.count
        }
        for op in ops {
            switch op {
            case .begin(let id, let info, let stamp):
                try db.execute(
                    sql: """
                        INSERT INTO connections (id, path, query, request_headers, subprotocol, extensions, upgrade_status,
                            response_headers, response_body, peer, upstream, error, opened_offset_ns, opened_at_ns)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        id, info.path, info.query, HeaderCoding.encode(info.requestHeaders), info.subprotocol,
                        info.extensions, info.upgradeStatus, HeaderCoding.encode(info.responseHeaders),
                        info.responseBody.isEmpty ? nil : Data(info.responseBody), info.peer, info.upstream, info.error,
                        stamp.offsetNanos, stamp.wallNanos,
                    ])
            case .end(let id, let close, let stamp):
                try db.execute(
                    sql: """
                        UPDATE connections SET closed_offset_ns = ?, closed_at_ns = ?, client_close_code = ?,
                            client_close_reason = ?, server_close_code = ?, server_close_reason = ?,
                            error = COALESCE(?, error) WHERE id = ?
                        """,
                    arguments: [
                        stamp.offsetNanos, stamp.wallNanos, close.clientCode, close.clientReason, close.serverCode,
                        close.serverReason, close.error, id,
                    ])
            case .frame(let p):
                try insert(PreparedFrame(pending: p))
            case .message(let fs):
                for f in fs { try insert(f) }
            }
        }
        if let batchID {
            // The batch's row last, stamped when its frames are written: the time of the commit.
            func note(_ seq: Int64, _ stamp: FrameTimestamp?) {
                result.firstSeq = min(result.firstSeq ?? seq, seq)
                result.lastSeq = max(result.lastSeq ?? seq, seq)
                result.frameCount += 1
                if let offset = stamp?.offsetNanos { result.oldestOffsetNanos = min(result.oldestOffsetNanos ?? offset, offset) }
            }
            for op in ops {
                switch op {
                case .frame(let p): note(p.seq, p.frame.timestamp)
                case .message(let fs): for f in fs { note(f.pending.seq, f.pending.frame.timestamp) }
                default: break
                }
            }
            try db.execute(
                sql: "INSERT INTO batches (id, first_seq, last_seq, frame_count, committed_at_ns) VALUES (?, ?, ?, ?, ?)",
                arguments: [batchID, result.firstSeq, result.lastSeq, result.frameCount, WallClock.nowNanos()])
        }
        return result
    }
}

/// Counters of a `RecordingWriter`.
public struct RecordingStatistics: Sendable, Hashable {
    public var connections = 0
    /// Frames handed to the writer.
    public var framesAccepted = 0
    /// Frames in committed batches (acknowledged).
    public var framesCommitted = 0
    public var batchesCommitted = 0
    public var bytesCommitted = 0
}

struct PendingFrame: Sendable {
    var seq: Int64
    var frame: RecordedFrame
}

struct PreparedFrame: Sendable {
    var pending: PendingFrame
    var payload: [UInt8]
    /// The `decoded` column: the message as JSON text (on a message's last frame).
    var decodedJSON: String?
    /// The `decoded` column is the payload itself (an unfragmented JSON text message with no secret).
    var decodedIsPayload = false
    var redacted: Bool

    init(pending: PendingFrame) {
        self.pending = pending
        self.payload = pending.frame.payload
        self.decodedJSON = nil
        self.redacted = false
    }
}

enum WriterOp: Sendable {
    case begin(Int64, ConnectionInfo, FrameTimestamp)
    case frame(PendingFrame)
    /// A complete message (one frame, or every fragment of a fragmented message).
    case message([PendingFrame])
    case end(Int64, ConnectionClose, FrameTimestamp)
}

enum PreparedOp: Sendable {
    case begin(Int64, ConnectionInfo, FrameTimestamp)
    case frame(PendingFrame)
    case message([PreparedFrame])
    case end(Int64, ConnectionClose, FrameTimestamp)
}

struct FragmentKey: Hashable {
    var connection: Int64
    var direction: FrameDirection
}

struct WriterState: ~Copyable {
    var ops: [WriterOp] = []
    var opsHead = 0
    /// Frames accepted and not yet committed (including held fragments).
    var pendingFrames = 0
    /// Frames in `ops` (ready to be written).
    var readyFrames = 0
    var nextSeq: Int64 = 1
    var nextConnection: Int64 = 1
    var nextBatch: Int64 = 1
    var knownConnections: Set<Int64> = []
    /// Fragments of messages still in progress, held so that redaction sees the whole message.
    var fragments: [FragmentKey: [PendingFrame]] = [:]
    var finishing = false
    /// A tick asked for everything queued to be written.
    var flushAllRequested = false
    /// The current drain writes everything queued, not only full batches.
    var flushingAll = false
    var failure: RecordingError?
    var spaceWaiters: [@Sendable () -> Void] = []
    var statistics = RecordingStatistics()

    func checkUsable() throws {
        if let failure { throw failure }
        if finishing { throw RecordingError.writerFinished }
    }

    mutating func push(_ p: PendingFrame) {
        let key = FragmentKey(connection: p.frame.connection.rawValue, direction: p.frame.direction)
        switch p.frame.opcode {
        case .ping, .pong, .close:
            ops.append(.frame(p))
            readyFrames += 1
        case .text, .binary:
            if let held = fragments.removeValue(forKey: key) {
                // A new message while one was unfinished: store the unfinished one as it is.
                ops.append(.message(held))
                readyFrames += held.count
            }
            if p.frame.fin {
                ops.append(.message([p]))
                readyFrames += 1
            } else {
                fragments[key] = [p]
            }
        case .continuation:
            var held = fragments.removeValue(forKey: key) ?? []
            held.append(p)
            if p.frame.fin || held.count >= 4096 {
                ops.append(.message(held))
                readyFrames += held.count
            } else {
                fragments[key] = held
            }
        }
    }

    /// Queues the unfinished messages of a connection (both directions) as they are.
    mutating func releaseFragments(of connection: Int64) {
        for direction in FrameDirection.allCases {
            if let held = fragments.removeValue(forKey: FragmentKey(connection: connection, direction: direction)) {
                ops.append(.message(held))
                readyFrames += held.count
            }
        }
    }

    /// Removes ops holding at most `maxFrames` frames (at least one op).
    mutating func takeBatch(maxFrames: Int) -> [WriterOp] {
        var taken: [WriterOp] = []
        var count = 0
        while opsHead < ops.count {
            let op = ops[opsHead]
            let n: Int
            switch op {
            case .frame: n = 1
            case .message(let fs): n = fs.count
            default: n = 0
            }
            if count > 0, count + n > maxFrames { break }
            taken.append(op)
            count += n
            opsHead += 1
        }
        readyFrames -= count
        if opsHead > 1024 || opsHead == ops.count {
            ops.removeFirst(opsHead)
            opsHead = 0
        }
        return taken
    }
}

enum WallClock {
    static func nowNanos() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}

enum HeaderCoding {
    static func encode(_ fields: [HeaderField]) -> String {
        Value.array(fields.map { .array([.string($0.name), .string($0.value)]) }).jsonString
    }

    static func decode(_ text: String?) -> [HeaderField] {
        guard let text, let v = try? Value(json: text), let a = v.arrayValue else { return [] }
        return a.compactMap { pair in
            guard let p = pair.arrayValue, p.count == 2, let n = p[0].stringValue, let val = p[1].stringValue else {
                return nil
            }
            return HeaderField(n, val)
        }
    }
}
