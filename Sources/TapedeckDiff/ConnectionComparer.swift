import TapedeckCore
import TapedeckRecording

/// Compares the messages of one pair of connections in two streaming passes per side.
///
/// Pass 1 reads each side once and keeps only an interned key per message (and its number), per
/// direction. Each direction is aligned on its own (client and server messages never pair, and a race
/// between a reply and an event does not count). Pass 2 reads each direction again beside the edit
/// script, compares the paired payloads (bytes first, structure only when the bytes differ) and
/// measures the drift of the gaps between paired messages.
struct ConnectionComparer {
    let expectedReader: RecordingReader
    let actualReader: RecordingReader
    let rules: DiffRules
    let decoder: MessageDecoder
    let options: DiffOptions

    /// Keys, content hashes and message numbers of one side, per direction.
    struct Keys {
        var tokens: [FrameDirection: [Int32]] = [.clientToServer: [], .serverToClient: []]
        var hashes: [FrameDirection: [Int]] = [.clientToServer: [], .serverToClient: []]
        var numbers: [FrameDirection: [Int32]] = [.clientToServer: [], .serverToClient: []]
        /// Capture times (recording offsets), for pairing moved messages.
        var offsets: [FrameDirection: [Int64]] = [.clientToServer: [], .serverToClient: []]
        var count = 0
    }

    /// Interned message keys shared by both sides.
    struct Interner {
        var ids: [String: Int32] = [:]
        var names: [String] = []
        mutating func id(_ name: String) -> Int32 {
            if let id = ids[name] { return id }
            let id = Int32(names.count)
            names.append(name)
            ids[name] = id
            return id
        }
    }

    /// The key of a message: the rules' key of its decoded value, else its opcode.
    func keyName(_ m: RecordedMessage, _ body: MessageBody) -> String {
        if m.opcode == .ping || m.opcode == .pong { return m.opcode.rawValue }
        if case .value(let v) = body, let k = rules.key(of: v) { return k }
        return m.opcode.rawValue
    }

    func readKeys(_ reader: RecordingReader, _ id: ConnectionID, _ interner: inout Interner) throws -> Keys {
        var keys = Keys()
        var cursor = MessageCursor(reader: reader, connection: id)
        let hasher = ContentHash(rules: rules)
        while let m = try cursor.next() {
            keys.count += 1
            let body = m.body(decoder)
            let token = interner.id(keyName(m, body))
            keys.tokens[m.direction, default: []].append(token)
            keys.hashes[m.direction, default: []].append(hasher.hash(body, key: token))
            keys.numbers[m.direction, default: []].append(Int32(truncatingIfNeeded: keys.count))
            keys.offsets[m.direction, default: []].append(m.offsetNanos)
        }
        return keys
    }

    /// Accumulates findings and rows within their limits.
    struct Collector {
        let maxFindings: Int
        let maxRows: Int
        var findings: [DiffFinding] = []
        var omittedFindings = 0
        var rows: [AlignedRow] = []
        var omittedRows = 0
        var matched = 0
        var drift = DriftHistogram()
        var overTolerance = 0

        mutating func add(_ f: DiffFinding) {
            if findings.count < maxFindings { findings.append(f) } else { omittedFindings += 1 }
        }

        /// Whether a row of this status would be kept (so that its preview is worth rendering).
        func keeps(_ status: AlignedRow.Status) -> Bool {
            rows.count < maxRows || (status != .same && rows.count < 2 * maxRows)
        }

        mutating func add(_ status: AlignedRow.Status, _ row: @autoclosure () -> AlignedRow) {
            if keeps(status) { rows.append(row()) } else { omittedRows += 1 }
        }
    }

    /// The comparison, and whether an alignment was too different and paired by position.
    func compare(expected e: StoredConnection, actual a: StoredConnection) throws -> (ConnectionDiff, fellBack: Bool) {
        var interner = Interner()
        let keysE = try readKeys(expectedReader, e.id, &interner)
        let keysA = try readKeys(actualReader, a.id, &interner)
        var c = Collector(maxFindings: options.maxFindingsPerConnection, maxRows: options.maxRowsPerConnection)
        for f in ConnectionHeaderComparison.findings(expected: e, actual: a, rules: rules) { c.add(f) }
        var messageFindings: [DiffFinding] = []
        var fellBack = false
        let openE = e.info.openedAt?.offsetNanos ?? 0
        let openA = a.info.openedAt?.offsetNanos ?? 0
        for direction in [FrameDirection.clientToServer, .serverToClient] {
            let tokensE = keysE.tokens[direction] ?? []
            let tokensA = keysA.tokens[direction] ?? []
            let alignment = SequenceAlignment.align(
                coarse: tokensE, tokensA, fine: keysE.hashes[direction] ?? [], keysA.hashes[direction] ?? [], maxEdits: options.maxAlignmentEdits)
            fellBack = fellBack || alignment.fellBack
            let moved = movedMessages(alignment, keysE, keysA, direction, openE: openE, openA: openA)
            // A moved message whose other half is still ahead in the stream waits here for it.
            var waitingE: [Int: (RecordedMessage, Int)] = [:], waitingA: [Int: (RecordedMessage, Int)] = [:]
            var cursorE = MessageCursor(reader: expectedReader, connection: e.id, direction: direction)
            var cursorA = MessageCursor(reader: actualReader, connection: a.id, direction: direction)
            var i = 0, j = 0
            var lastE = openE, lastA = openA
            var local = Collector(maxFindings: options.maxFindingsPerConnection, maxRows: options.maxRowsPerConnection)
            func number(_ keys: Keys, _ k: Int) -> Int { Int(keys.numbers[direction]?[k] ?? Int32(k + 1)) }
            for run in alignment.runs {
                switch run {
                case .match(let n):
                    for _ in 0..<n {
                        guard let me = try cursorE.next(), let ma = try cursorA.next() else { break }
                        let key = interner.names[Int(tokensE[i])]
                        let ne = number(keysE, i), na = number(keysA, j)
                        i += 1
                        j += 1
                        local.matched += 1
                        var diffs: [ValueDifference] = []
                        if me.opcode != ma.opcode {
                            local.add(DiffFinding(kind: .opcodeChanged, direction: direction, expectedIndex: ne, actualIndex: na, messageKey: key, expected: .string(me.opcode.rawValue), actual: .string(ma.opcode.rawValue)))
                        }
                        if me.payload != ma.payload {
                            diffs = differences(expected: me.body(decoder), actual: ma.body(decoder), rules: rules)
                            for d in diffs { local.add(DiffFinding(d, direction: direction, expectedIndex: ne, actualIndex: na, key: key)) }
                        }
                        // Timing: the gap since the previous paired message of this direction (or the open).
                        let gapE = me.offsetNanos - lastE, gapA = ma.offsetNanos - lastA
                        lastE = me.offsetNanos
                        lastA = ma.offsetNanos
                        let drift = abs(gapA - gapE)
                        local.drift.record(drift)
                        var late = false
                        if let tolerance = options.timingToleranceNanos, drift > tolerance {
                            late = true
                            local.overTolerance += 1
                            local.add(DiffFinding(
                                kind: .timing, direction: direction, expectedIndex: ne, actualIndex: na, messageKey: key,
                                detail: "gap \(TimingSummary.format(nanos: gapE)) -> \(TimingSummary.format(nanos: gapA)), drift \(TimingSummary.format(nanos: drift)) > \(TimingSummary.format(nanos: tolerance))"))
                        }
                        let changed = !diffs.isEmpty || me.opcode != ma.opcode
                        local.add(changed ? .changed : .same, AlignedRow(
                            status: changed ? .changed : .same, direction: direction, key: key,
                            expected: preview(me, ne, openE), actual: preview(ma, na, openA), differences: diffs, late: late))
                    }
                case .delete(let n):
                    for _ in 0..<n {
                        guard let me = try cursorE.next() else { break }
                        let key = interner.names[Int(tokensE[i])]
                        let ne = number(keysE, i)
                        i += 1
                        if let j = moved.actualFor[i - 1] {
                            if let (ma, na) = waitingA.removeValue(forKey: j) {
                                addMoved(me, ne, ma, na, key, direction, openE: openE, openA: openA, into: &local)
                            } else {
                                waitingE[i - 1] = (me, ne)
                            }
                            continue
                        }
                        local.add(DiffFinding(kind: .messageRemoved, direction: direction, expectedIndex: ne, messageKey: key, expected: me.body(decoder).displayValue))
                        local.add(.removed, AlignedRow(status: .removed, direction: direction, key: key, expected: preview(me, ne, openE), actual: nil, differences: []))
                    }
                case .insert(let n):
                    for _ in 0..<n {
                        guard let ma = try cursorA.next() else { break }
                        let key = interner.names[Int(tokensA[j])]
                        let na = number(keysA, j)
                        j += 1
                        if let i = moved.expectedFor[j - 1] {
                            if let (me, ne) = waitingE.removeValue(forKey: i) {
                                addMoved(me, ne, ma, na, key, direction, openE: openE, openA: openA, into: &local)
                            } else {
                                waitingA[j - 1] = (ma, na)
                            }
                            continue
                        }
                        local.add(DiffFinding(kind: .messageAdded, direction: direction, actualIndex: na, messageKey: key, actual: ma.body(decoder).displayValue))
                        local.add(.added, AlignedRow(status: .added, direction: direction, key: key, expected: nil, actual: preview(ma, na, openA), differences: []))
                    }
                }
            }
            messageFindings += local.findings
            c.omittedFindings += local.omittedFindings
            c.rows += local.rows
            c.omittedRows += local.omittedRows
            c.matched += local.matched
            c.overTolerance += local.overTolerance
            c.drift.merge(local.drift)
        }
        // Both directions' findings in message order, within the connection's limit.
        messageFindings.sort { ($0.expectedIndex ?? $0.actualIndex ?? 0, $0.actualIndex ?? 0) < ($1.expectedIndex ?? $1.actualIndex ?? 0, $1.actualIndex ?? 0) }
        for f in messageFindings { c.add(f) }
        c.rows.sort { rowTime($0) < rowTime($1) }
        if c.rows.count > 2 * options.maxRowsPerConnection {
            c.omittedRows += c.rows.count - 2 * options.maxRowsPerConnection
            c.rows.removeLast(c.rows.count - 2 * options.maxRowsPerConnection)
        }
        let diff = ConnectionDiff(
            label: Self.label(path: e.info.path, e.id, a.id), path: e.info.path, expectedID: e.id, actualID: a.id,
            findings: c.findings, omittedFindings: c.omittedFindings, expectedMessages: keysE.count, actualMessages: keysA.count,
            matchedMessages: c.matched, timing: TimingSummary(c.drift, overTolerance: c.overTolerance), rows: c.rows,
            omittedRows: c.omittedRows, expectedDurationNanos: Self.duration(e), actualDurationNanos: Self.duration(a))
        return (diff, fellBack)
    }

    /// The unpaired messages of one direction that are the same message on both sides.
    func movedMessages(
        _ alignment: SequenceAlignment, _ keysE: Keys, _ keysA: Keys, _ direction: FrameDirection, openE: Int64, openA: Int64
    ) -> MovedMessages {
        let (removed, added) = MovedMessages.unpairedPositions(alignment.runs)
        let hashesE = keysE.hashes[direction] ?? [], hashesA = keysA.hashes[direction] ?? []
        let offsetsE = keysE.offsets[direction] ?? [], offsetsA = keysA.offsets[direction] ?? []
        return MovedMessages(
            removed: removed.map { .init(position: $0, hash: hashesE[$0], offsetNanos: offsetsE[$0] - openE) },
            added: added.map { .init(position: $0, hash: hashesA[$0], offsetNanos: offsetsA[$0] - openA) })
    }

    /// One message that changed places: no difference within the reorder window, one beyond it.
    func addMoved(
        _ me: RecordedMessage, _ ne: Int, _ ma: RecordedMessage, _ na: Int, _ key: String, _ direction: FrameDirection,
        openE: Int64, openA: Int64, into local: inout Collector
    ) {
        let timeE = me.offsetNanos - openE, timeA = ma.offsetNanos - openA
        let beyond = abs(timeA - timeE) > options.reorderWindowNanos
        local.matched += 1
        if beyond {
            local.add(DiffFinding(
                kind: .messageMoved, direction: direction, expectedIndex: ne, actualIndex: na, messageKey: key,
                detail: "at \(TimingSummary.format(nanos: timeE)) -> \(TimingSummary.format(nanos: timeA)), beyond the reorder window of \(TimingSummary.format(nanos: options.reorderWindowNanos))"))
        }
        local.add(beyond ? .changed : .same, AlignedRow(
            status: beyond ? .changed : .same, direction: direction, key: key,
            expected: preview(me, ne, openE), actual: preview(ma, na, openA), differences: []))
    }

    /// A connection only one side has: one finding, and its messages counted.
    func unpaired(_ conn: StoredConnection, expectedSide: Bool) throws -> ConnectionDiff {
        var count = 0
        var cursor = MessageCursor(reader: expectedSide ? expectedReader : actualReader, connection: conn.id)
        while try cursor.next() != nil { count += 1 }
        let summary: Value = [
            "path": .string(conn.info.path), "upgrade_status": conn.info.upgradeStatus.map { .int($0) } ?? .null, "messages": .int(count),
        ]
        let finding = DiffFinding(kind: expectedSide ? .connectionRemoved : .connectionAdded, expected: expectedSide ? summary : nil, actual: expectedSide ? nil : summary)
        return ConnectionDiff(
            label: Self.label(path: conn.info.path, expectedSide ? conn.id : nil, expectedSide ? nil : conn.id), path: conn.info.path,
            expectedID: expectedSide ? conn.id : nil, actualID: expectedSide ? nil : conn.id, findings: [finding], omittedFindings: 0,
            expectedMessages: expectedSide ? count : 0, actualMessages: expectedSide ? 0 : count, matchedMessages: 0,
            timing: TimingSummary(), rows: [], omittedRows: 0,
            expectedDurationNanos: expectedSide ? Self.duration(conn) : 0, actualDurationNanos: expectedSide ? 0 : Self.duration(conn))
    }

    static func label(path: String, _ e: ConnectionID?, _ a: ConnectionID?) -> String {
        switch (e, a) {
        case let (e?, a?) where e == a: return "\(path) #\(e)"
        case let (e?, a?): return "\(path) #\(e)↔#\(a)"
        case let (e?, nil): return "\(path) #\(e) (expected only)"
        case let (nil, a?): return "\(path) #\(a) (actual only)"
        default: return path
        }
    }

    static func duration(_ c: StoredConnection) -> Int64 {
        guard let open = c.info.openedAt?.offsetNanos, let close = c.close.closedAt?.offsetNanos else { return 0 }
        return max(0, close - open)
    }

    func preview(_ m: RecordedMessage, _ index: Int, _ open: Int64) -> MessagePreview {
        let text: String = switch m.body(decoder) {
        case .value(let v): v.jsonString
        case .text(let t): t
        case .binary: m.body(decoder).displayValue.stringValue ?? ""
        }
        let cut = text.count > 400 ? String(text.prefix(399)) + "…" : text
        return MessagePreview(index: index, offsetNanos: m.offsetNanos - open, opcode: m.opcode, text: cut)
    }

    func rowTime(_ r: AlignedRow) -> Int64 {
        r.expected?.offsetNanos ?? r.actual?.offsetNanos ?? 0
    }
}
