import Foundation
import TapedeckCore
import TapedeckDiff
import TapedeckRecording
import Testing

/// A message to record: who sent it, its text (or bytes), and when (ms after the connection opened).
struct Msg {
    var direction: FrameDirection
    var payload: [UInt8]
    var atMs: Int64
    var opcode: FrameOpcode = .text

    static func c(_ json: String, _ at: Int64) -> Msg { Msg(direction: .clientToServer, payload: Array(json.utf8), atMs: at) }
    static func s(_ json: String, _ at: Int64) -> Msg { Msg(direction: .serverToClient, payload: Array(json.utf8), atMs: at) }
}

/// One connection to record.
struct Conn {
    var path = "/ws"
    var messages: [Msg]
    var serverClose = 1000
    var subprotocol: String?
}

/// A temporary directory of recordings, removed afterwards.
final class Scratch {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("tapedeck-diff-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    deinit { try? FileManager.default.removeItem(at: url) }

    /// Writes a real recording with `RecordingWriter`.
    func record(_ name: String, profile: String? = nil, _ conns: [Conn]) async throws -> String {
        let file = path(name)
        let writer = try await RecordingWriter.open(path: file, metadata: RecordingMetadata(name: name, profile: profile))
        for c in conns {
            let id = try await writer.beginConnection(
                ConnectionInfo(path: c.path, subprotocol: c.subprotocol, openedAt: FrameTimestamp(offsetNanos: 0, wallNanos: 1)))
            for m in c.messages {
                try await writer.append(
                    RecordedFrame(
                        connection: id, direction: m.direction, opcode: m.opcode, payload: m.payload,
                        timestamp: FrameTimestamp(offsetNanos: m.atMs * 1_000_000, wallNanos: 1 + m.atMs * 1_000_000)))
            }
            let end = (c.messages.last?.atMs ?? 0) + 10
            try await writer.endConnection(
                id, close: ConnectionClose(clientCode: 1000, serverCode: c.serverClose, closedAt: FrameTimestamp(offsetNanos: end * 1_000_000, wallNanos: 1)))
        }
        try await writer.finish()
        return file
    }
}

func events(_ n: Int, insertAt: Int? = nil, change: (Int, String)? = nil, stamp: String = "2026-01-01T00:00:00Z") -> [Msg] {
    var out: [Msg] = [.c(#"{"type":"subscribe","topic":"incidents"}"#, 0)]
    for i in 1...n {
        if i == insertAt { out.append(.s(#"{"type":"alert","id":"extra"}"#, Int64(i * 10 - 5))) }
        let status = change?.0 == i ? change!.1 : "open"
        out.append(.s(#"{"type":"incident","id":"inc-\#(i)","status":"\#(status)","timestamp":"\#(stamp)"}"#, Int64(i * 10)))
    }
    return out
}

@Suite struct RecordingDiffTests {
    func compare(_ a: String, _ b: String, _ options: DiffOptions = DiffOptions()) throws -> RecordingDiff {
        try RecordingComparator(options: options).compare(expected: a, actual: b)
    }

    @Test func identicalSessionsAreEqualAndExitZero() async throws {
        let s = try Scratch()
        let a = try await s.record("a.sqlite", [Conn(messages: events(20))])
        let b = try await s.record("b.sqlite", [Conn(messages: events(20))])
        let diff = try compare(a, b)
        #expect(diff.isEqual)
        #expect(DiffExitStatus(diff) == .equal)
        #expect(diff.connections.first?.matchedMessages == 21)
        #expect(DiffReportRenderer.text(diff, color: false).contains("OK: equal under the rules"))
    }

    @Test func aChangedFieldIsNamedByConnectionMessageAndPath() async throws {
        let s = try Scratch()
        let a = try await s.record("a.sqlite", [Conn(messages: events(10))])
        let b = try await s.record("b.sqlite", [Conn(messages: events(10, change: (4, "closed")))])
        let diff = try compare(a, b)
        #expect(DiffExitStatus(diff) == .different)
        let f = try #require(diff.connections.first?.findings.first)
        #expect(diff.differenceCount == 1)
        #expect(f.kind == .valueChanged)
        #expect(f.expectedIndex == 5)  // the subscribe is message 1
        #expect(f.path?.description == "$.status")
        #expect(f.expected == "open" && f.actual == "closed")
        let text = DiffReportRenderer.text(diff, color: false)
        #expect(text.contains(#"/ws #1"#))
        #expect(text.contains(#"message 5 (s2c incident) $.status: changed "open" -> "closed""#))
    }

    @Test func anInsertedMessageIsOneAddedMessage() async throws {
        let s = try Scratch()
        let a = try await s.record("a.sqlite", [Conn(messages: events(30))])
        let b = try await s.record("b.sqlite", [Conn(messages: events(30, insertAt: 3))])
        let diff = try compare(a, b)
        #expect(diff.differenceCount == 1)
        let f = try #require(diff.connections.first?.findings.first)
        #expect(f.kind == .messageAdded)
        #expect(f.messageKey == "alert")
        #expect(f.actualIndex == 4)
        #expect(diff.connections.first?.matchedMessages == 31)
    }

    @Test func aReplyRacingAnEventIsNoDifferenceWithinTheReorderWindow() async throws {
        let s = try Scratch()
        // The pong and the event are a millisecond apart: they came in the other order the second time.
        let a = try await s.record("a.sqlite", [Conn(messages: [
            .c(#"{"type":"ping"}"#, 0), .s(#"{"type":"event","n":1}"#, 1), .s(#"{"type":"pong"}"#, 2), .s(#"{"type":"event","n":2}"#, 50),
        ])])
        let b = try await s.record("b.sqlite", [Conn(messages: [
            .c(#"{"type":"ping"}"#, 0), .s(#"{"type":"pong"}"#, 1), .s(#"{"type":"event","n":1}"#, 2), .s(#"{"type":"event","n":2}"#, 50),
        ])])
        let diff = try compare(a, b)
        #expect(diff.isEqual, "\(diff.connections.first?.findings ?? [])")
        #expect(diff.connections.first?.matchedMessages == 4)

        // With no window, the same reordering is one moved message, not a removal and an addition.
        let strict = try compare(a, b, DiffOptions(reorderWindowNanos: 0))
        #expect(strict.differenceCount == 1)
        let f = try #require(strict.connections.first?.findings.first)
        #expect(f.kind == .messageMoved)
        #expect(f.messageKey == "pong" || f.messageKey == "event")
    }

    @Test func aMessageMovedFarIsOneMovedMessage() async throws {
        let s = try Scratch()
        let a = try await s.record("a.sqlite", [Conn(messages: [.s(#"{"type":"alert"}"#, 0)] + events(5))])
        let b = try await s.record("b.sqlite", [Conn(messages: events(5) + [.s(#"{"type":"alert"}"#, 500)])])
        let diff = try compare(a, b)
        #expect(diff.differenceCount == 1)
        let f = try #require(diff.connections.first?.findings.first)
        #expect(f.kind == .messageMoved)
        #expect(f.messageKey == "alert")
        #expect(f.description.contains("message moved"))
    }

    @Test func ignoreRulesFromTheCommandLineAndARulesFileApply() async throws {
        let s = try Scratch()
        let a = try await s.record("a.sqlite", [Conn(messages: events(5, stamp: "2026-01-01T00:00:00Z"))])
        let b = try await s.record("b.sqlite", [Conn(messages: events(5, stamp: "2026-01-02T10:00:00Z"))])
        #expect(try compare(a, b).differenceCount == 5)
        #expect(try compare(a, b, DiffOptions(ignore: ["$.timestamp"])).isEqual)
        #expect(try compare(a, b, DiffOptions(ignore: ["iso-time"])).isEqual)
        // A .tapedeck-diff.yaml beside the recordings is read without being asked for.
        try "ignore: [$.timestamp]\n".write(toFile: s.path(".tapedeck-diff.yaml"), atomically: true, encoding: .utf8)
        let diff = try compare(a, b)
        #expect(diff.isEqual)
        #expect(diff.notes.contains { $0.contains(".tapedeck-diff.yaml") })
        #expect(try compare(a, b, DiffOptions(discoverRulesFiles: false)).differenceCount == 5)
    }

    @Test func theProfilePresetAppliesFromTheRecordingsProfileColumn() async throws {
        let s = try Scratch()
        let e: [Msg] = [.s(#"{"type":"incident","action":"created","data":{"id":"inc-1","created_at":"x"},"timestamp":"2026-01-01T00:00:00Z"}"#, 10)]
        let f: [Msg] = [.s(#"{"type":"incident","action":"created","data":{"id":"inc-1","created_at":"y"},"timestamp":"2026-01-02T00:00:00Z"}"#, 10)]
        let a = try await s.record("a.sqlite", profile: "ops-control-center", [Conn(path: "/api/ws", messages: e)])
        let b = try await s.record("b.sqlite", profile: "ops-control-center", [Conn(path: "/api/ws", messages: f)])
        #expect(try compare(a, b).isEqual)
        #expect(try compare(a, b, DiffOptions(useProfilePreset: false)).differenceCount == 2)
    }

    @Test func closeCodesSubprotocolsAndMissingConnectionsAreDifferences() async throws {
        let s = try Scratch()
        let a = try await s.record("a.sqlite", [Conn(messages: events(2), serverClose: 1000), Conn(path: "/other", messages: events(1))])
        let b = try await s.record("b.sqlite", [Conn(messages: events(2), serverClose: 4001, subprotocol: "v2")])
        let diff = try compare(a, b)
        let kinds = diff.connections.flatMap { $0.findings.map(\.kind) }
        #expect(kinds == [.subprotocol, .closeCode, .connectionRemoved])
    }

    @Test func timingDriftIsReportedAndCountsOnlyBeyondTheTolerance() async throws {
        let s = try Scratch()
        var slow = events(5)
        slow[3].atMs += 80  // one message 80 ms late: its gap grows, the next one shrinks
        let a = try await s.record("a.sqlite", [Conn(messages: events(5))])
        let b = try await s.record("b.sqlite", [Conn(messages: slow)])
        let plain = try compare(a, b)
        #expect(plain.isEqual)
        let t = try #require(plain.connections.first?.timing)
        #expect(t.samples == 6)
        #expect(t.maxNanos >= 79_000_000 && t.maxNanos <= 81_000_000)
        let strict = try compare(a, b, DiffOptions(timingToleranceNanos: 50_000_000))
        #expect(strict.differenceCount == 2)
        #expect(strict.connections.first?.findings.allSatisfy { $0.kind == .timing } == true)
    }

    @Test func fragmentedAndBinaryMessagesCompareWhole() async throws {
        let s = try Scratch()
        let file = s.path("a.sqlite")
        let writer = try await RecordingWriter.open(path: file, metadata: RecordingMetadata(name: "a"))
        let id = try await writer.beginConnection(ConnectionInfo(path: "/ws", openedAt: FrameTimestamp(offsetNanos: 0, wallNanos: 1)))
        try await writer.append(RecordedFrame(connection: id, direction: .serverToClient, opcode: .text, fin: false, payload: Array(#"{"type":"big","part":"#.utf8), timestamp: FrameTimestamp(offsetNanos: 1, wallNanos: 1)))
        try await writer.append(RecordedFrame(connection: id, direction: .serverToClient, opcode: .continuation, fin: true, payload: Array(#""one"}"#.utf8), timestamp: FrameTimestamp(offsetNanos: 2, wallNanos: 1)))
        try await writer.append(RecordedFrame(connection: id, direction: .serverToClient, opcode: .binary, payload: [0, 1, 2], timestamp: FrameTimestamp(offsetNanos: 3, wallNanos: 1)))
        try await writer.endConnection(id, close: ConnectionClose(clientCode: 1000, serverCode: 1000))
        try await writer.finish()
        let b = try await s.record("b.sqlite", [Conn(messages: [
            .s(#"{"type":"big","part":"two"}"#, 0),
            Msg(direction: .serverToClient, payload: [0, 1, 3], atMs: 0, opcode: .binary),
        ], serverClose: 1000)])
        let diff = try compare(file, b)
        let found = try #require(diff.connections.first?.findings)
        #expect(found.map(\.kind) == [.valueChanged, .valueChanged])
        #expect(found.first?.path?.description == "$.part")
        #expect(found.last?.expected?.stringValue?.hasPrefix("<binary 3 bytes: 000102") == true)
    }

    @Test func binaryFramesDecodeThroughTheProfilesProtobufCodec() async throws {
        let s = try Scratch()
        // A WorkItemUpdated frame of the workitems-protobuf sample recording, and the same with status "blocked".
        let before = try #require(Data(base64Encoded: "CiRmMDM4ZjFlYS0zYmQ5LTQ0MGMtYTY0MS04Mjc1ZDRlYzFhMjAQi97ehaA0+gF5ClIKBnRhc2stMRADGhNBZGQgcGF5bWVudCByZXRyaWVzKgtpbl9wcm9ncmVzczoJcHJvamVjdC0xQghzcHJpbnQtNZABkuzehaA0mgEGdXNlci0yEhsKBnN0YXR1cxIEdG9kbxoLaW5fcHJvZ3Jlc3MaBnVzZXItMg=="))
        let after = try #require(Data(base64Encoded: "CiRmMDM4ZjFlYS0zYmQ5LTQ0MGMtYTY0MS04Mjc1ZDRlYzFhMjAQi97ehaA0+gF1Ck4KBnRhc2stMRADGhNBZGQgcGF5bWVudCByZXRyaWVzKgdibG9ja2VkOglwcm9qZWN0LTFCCHNwcmludC01kAGS7N6FoDSaAQZ1c2VyLTISGwoGc3RhdHVzEgR0b2RvGgtpbl9wcm9ncmVzcxoGdXNlci0y"))
        func frame(_ d: Data) -> Msg { Msg(direction: .serverToClient, payload: [UInt8](d), atMs: 5, opcode: .binary) }
        let a = try await s.record("a.sqlite", profile: "workitems-protobuf", [Conn(messages: [frame(before)])])
        let b = try await s.record("b.sqlite", profile: "workitems-protobuf", [Conn(messages: [frame(after)])])
        let diff = try compare(a, b)
        let f = try #require(diff.connections.first?.findings.first)
        #expect(diff.differenceCount == 1)
        #expect(f.messageKey == "workItemUpdated")
        #expect(f.path?.description == "$.workItemUpdated.workItem.status")
        #expect(f.expected == "in_progress" && f.actual == "blocked")
    }

    @Test func unreadableFilesAndBadRulesAreErrors() async throws {
        let s = try Scratch()
        let a = try await s.record("a.sqlite", [Conn(messages: events(1))])
        try "not sqlite".write(toFile: s.path("junk.sqlite"), atomically: true, encoding: .utf8)
        #expect(throws: DiffError.self) { try compare(a, s.path("missing.sqlite")) }
        #expect(throws: DiffError.self) { try compare(a, s.path("junk.sqlite")) }
        #expect(throws: DiffError.self) { try compare(a, a, DiffOptions(ignore: ["$.a["])) }
        try "ignore: [$.a[]\n".write(toFile: s.path("bad.yaml"), atomically: true, encoding: .utf8)
        #expect(throws: DiffError.self) { try compare(a, a, DiffOptions(rulesFiles: [s.path("bad.yaml")])) }
    }

    @Test func reportsInEveryFormatCarryTheDifferences() async throws {
        let s = try Scratch()
        let a = try await s.record("a.sqlite", [Conn(messages: events(3)), Conn(path: "/b", messages: events(1))])
        let b = try await s.record("b.sqlite", [Conn(messages: events(3, change: (2, "<closed>"))), Conn(path: "/b", messages: events(1))])
        let diff = try compare(a, b)
        let json = try Value(json: DiffReportRenderer.render(diff, format: .json))
        #expect(json["equal"] == false)
        #expect(json["connections"]?[0]?["findings"]?[0]?["path"] == "$.status")
        let junit = DiffReportRenderer.render(diff, format: .junit)
        #expect(junit.components(separatedBy: "<testcase ").count == 3)
        #expect(junit.components(separatedBy: "<failure ").count == 2)
        #expect(junit.contains("&lt;closed&gt;"))
        let html = DiffReportRenderer.render(diff, format: .html)
        #expect(html.contains("Recordings differ"))
        #expect(html.contains("<mark class=\"ins\">&quot;status&quot;:&quot;&lt;closed&gt;&quot;</mark>"))
        #expect(!html.contains("http://") && !html.contains("https://"))
        #expect(!html.contains("<script src"))
    }
}
