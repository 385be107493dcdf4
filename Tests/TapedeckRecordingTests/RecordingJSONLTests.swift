import Foundation
import TapedeckCore
import Testing
@testable import TapedeckRecording

@Suite("JSONL export and import")
struct RecordingJSONLTests {
    /// A recording with a bit of everything: text, JSON, binary, invalid UTF-8, fragments, control frames,
    /// a refused connection with a body, close codes and tags.
    static func makeRecording(at path: String) async throws {
        let writer = try await RecordingWriter.open(
            path: path,
            metadata: RecordingMetadata(name: "mixed", upstream: "ws://127.0.0.1:1/ws", profile: "ops-control-center", tags: ["x", "y"]),
            configuration: RecordingConfiguration(batchSize: 3))
        let a = try await writer.beginConnection(
            ConnectionInfo(
                path: "/api/ws", query: "room=7", requestHeaders: [HeaderField("Host", "h"), HeaderField("X-Trace", "é\"q")],
                subprotocol: "v1", responseHeaders: [HeaderField("Upgrade", "websocket")], peer: "127.0.0.1:1234"))
        let refused = try await writer.beginConnection(
            ConnectionInfo(path: "/api/ws", upgradeStatus: 401, responseHeaders: [HeaderField("WWW-Authenticate", "Bearer")],
                responseBody: text("no\n")))
        try await writer.endConnection(refused, close: ConnectionClose())
        let frames: [RecordedFrame] = [
            RecordedFrame(connection: a, direction: .serverToClient, opcode: .text, payload: text(#"{"type":"incident","action":"created","data":{"n":1.5,"ok":true}}"#)),
            RecordedFrame(connection: a, direction: .clientToServer, opcode: .text, payload: text("plain text ✓")),
            RecordedFrame(connection: a, direction: .serverToClient, opcode: .binary, payload: [0, 1, 2, 0xFF, 0xFE]),
            RecordedFrame(connection: a, direction: .serverToClient, opcode: .text, fin: false, payload: [0xE2, 0x9C]),
            RecordedFrame(connection: a, direction: .serverToClient, opcode: .continuation, payload: [0x93]),
            RecordedFrame(connection: a, direction: .clientToServer, opcode: .ping, payload: []),
            RecordedFrame(connection: a, direction: .serverToClient, opcode: .pong, payload: []),
            RecordedFrame(connection: a, direction: .clientToServer, opcode: .close, payload: [0x0F, 0xA0] + text("bye")),
            RecordedFrame(connection: a, direction: .serverToClient, opcode: .close, payload: [0x0F, 0xA0] + text("bye")),
        ]
        for f in frames { try await writer.append(f) }
        try await writer.endConnection(a, close: ConnectionClose(clientCode: 4000, clientReason: "bye", serverCode: 4000, serverReason: "bye"))
        try await writer.finish()
    }

    static func export(_ path: String) throws -> [String] {
        var lines: [String] = []
        try RecordingJSONL.export(recordingAt: path) { lines.append($0) }
        return lines
    }

    @Test("export, import, export gives the same lines and identical tables")
    func roundTrip() async throws {
        let dir = try TemporaryDirectory()
        let original = dir.path("original.sqlite")
        try await Self.makeRecording(at: original)
        let first = try Self.export(original)
        let expectedLines = 1 + 2 + 3 + 9  // recording, connections, batches, frames
        #expect(first.count == expectedLines)

        let rebuilt = dir.path("rebuilt.sqlite")
        try RecordingJSONL.importLines(first, to: rebuilt)
        let second = try Self.export(rebuilt)
        #expect(second == first)
        let rebuiltTables = try RecordingReader(path: rebuilt).dumpTables()
        let originalTables = try RecordingReader(path: original).dumpTables()
        #expect(rebuiltTables == originalTables)
        #expect(try RecordingReader(path: rebuilt).integrityCheck() == "ok")
    }

    @Test("each frame line is readable: text as text, binary as base64, decoded JSON inline")
    func readableLines() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("r.sqlite")
        try await Self.makeRecording(at: path)
        let frames = try Self.export(path).map { try Value(json: $0) }.filter { $0["kind"] == "frame" }
        #expect(frames[0]["decoded"]?["type"] == "incident")
        #expect(frames[1]["payload"]?["text"] == "plain text ✓")
        #expect(frames[2]["payload"]?["base64"] == "AAEC//4=")
        #expect(frames[3]["payload"]?["base64"] != nil, "half a UTF-8 character is kept as bytes")
        #expect(frames[7]["close_code"] == 4000)
    }

    @Test("a broken line is reported with its line number")
    func brokenLine() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("r.sqlite")
        try await Self.makeRecording(at: path)
        var lines = try Self.export(path)
        lines[3] = #"{"kind":"frame","seq":"one"}"#
        #expect(throws: RecordingError.invalidJSONL(line: 4, message: #""seq" must be an integer"#)) {
            try RecordingJSONL.importLines(lines, to: dir.path("broken.sqlite"))
        }
    }
}
