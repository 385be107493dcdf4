import Foundation
import OrderedCollections
import Testing
import TapedeckCore
import TapedeckProtobuf
import TapedeckProtocol
import TapedeckRecording
import TapedeckScenario
@testable import TapedeckReplay

/// `tapedeck scenario from-recording`: a recording becomes a scenario whose events, served through
/// the profile, give the recorded server messages back.
@Suite("Scenario from a recording")
struct ScenarioGeneratorTests {
    /// One frame to record: direction, seconds after the connection opened, and the message.
    struct Frame {
        var direction: FrameDirection
        var at: Double
        var value: Value?
        var bytes: [UInt8]?

        static func server(_ at: Double, _ value: Value) -> Frame { Frame(direction: .serverToClient, at: at, value: value) }
        static func client(_ at: Double, _ value: Value) -> Frame { Frame(direction: .clientToServer, at: at, value: value) }
        static func binary(_ at: Double, _ bytes: [UInt8]) -> Frame { Frame(direction: .serverToClient, at: at, bytes: bytes) }
        /// One fragment of a binary message: the first is `binary`, the others `continuation`.
        static func fragment(_ at: Double, _ bytes: [UInt8], first: Bool, last: Bool) -> Frame {
            Frame(direction: .serverToClient, at: at, bytes: bytes, opcode: first ? .binary : .continuation, fin: last)
        }
        var opcode: FrameOpcode = .binary
        var fin = true
    }

    /// Writes a recording with `RecordingWriter`: each connection opens `opened` seconds in.
    func record(profile: String?, _ connections: [(opened: Double, frames: [Frame])]) async throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tapedeck-fromrec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("rec.sqlite").path
        let writer = try await RecordingWriter.open(path: path, metadata: RecordingMetadata(name: "sample", profile: profile))
        func stamp(_ s: Double) -> FrameTimestamp { FrameTimestamp(offsetNanos: Int64((s * 1e9).rounded()), wallNanos: 1_800_000_000_000_000_000 + Int64((s * 1e9).rounded())) }
        for c in connections {
            let id = try await writer.beginConnection(ConnectionInfo(path: "/ws", openedAt: stamp(c.opened)))
            for f in c.frames {
                if let bytes = f.bytes {
                    try await writer.append(RecordedFrame(connection: id, direction: f.direction, opcode: f.opcode, fin: f.fin, payload: bytes, timestamp: stamp(c.opened + f.at)))
                } else if let value = f.value {
                    try await writer.append(RecordedFrame(connection: id, direction: f.direction, opcode: .text, payload: Array(value.jsonString.utf8), timestamp: stamp(c.opened + f.at)))
                }
            }
            try await writer.endConnection(id, close: ConnectionClose(clientCode: 1000, clientReason: "", serverCode: 1000, serverReason: ""))
        }
        _ = try await writer.finish()
        return path
    }

    func generate(_ path: String, profile: String?, base: String? = nil) throws -> GeneratedScenario {
        let p = try profile.map { try ProfileLoader().load($0) }
        let b = try base.map { try ScenarioLoader().load(text: $0, file: "base.yaml") }
        return try ScenarioGenerator(profile: p, base: b).generate(recording: path)
    }

    /// The generated YAML, loaded back, played, and rendered through the profile's envelope.
    func replayed(_ scenario: GeneratedScenario, profile: String) throws -> [(time: Double, frame: Value)] {
        let loaded = try ScenarioLoader().load(text: scenario.yaml, file: "generated.yaml")
        let p = try ProfileLoader().load(profile)
        return try Timeline(scenario: loaded).prefix(1000).map { event in
            var ctx = EvaluationContext(variables: ["event": event.value, "topic": .null, "settings": p.settings, "entities": loaded.entities])
            if let topic = try p.topic?.evaluate(in: &ctx) { ctx.variables["topic"] = .string(topic.plainText) }
            return (event.time, try p.envelope?.evaluate(in: &ctx) ?? event.value)
        }
    }

    func without(_ keys: [String], _ v: Value) -> Value {
        guard case .object(var o) = v else { return v }
        for k in keys { o[k] = nil }
        return .object(o)
    }

    static let incident1: Value = ["type": "incident", "action": "created", "data": ["id": "inc-1", "squad": "platform"], "timestamp": "2026-01-01T00:00:00.500Z"]
    static let alert: Value = ["type": "alert", "action": "created", "data": ["id": "alert-1", "value": 94.5], "timestamp": "2026-01-01T00:00:00.750Z"]
    static let incident2: Value = ["type": "incident", "action": "created", "data": ["id": "inc-2", "squad": "payments"], "timestamp": "2026-01-01T00:00:01.000Z"]

    @Test func oneStreamPerKindOfMessageAtTheRecordedTimes() async throws {
        let path = try await record(profile: "ops-control-center", [(opened: 2, frames: [
            .client(0.25, ["action": "subscribe", "topics": ["incidents"]]),
            .client(0.25, ["action": "ping"]),
            .server(0.3, ["action": "pong", "timestamp": "2026-01-01T00:00:00.020Z"]),
            .server(0.5, Self.incident1),
            .server(0.75, Self.alert),
            .server(1.0, Self.incident2),
        ])])
        let s = try generate(path, profile: "ops-control-center")
        #expect(s.streams.map(\.name) == ["incident-created", "alert-created"])
        // Times count from the connection's first message (the subscribe), when the server's side
        // was certainly open; the recorder saw the upgrade request 0.25 s before.
        #expect(s.streams[0].events.map(\.time) == [0.25, 0.75])
        #expect(s.streams[1].events.map(\.time) == [0.5])
        // The event form: the envelope's `timestamp` is the send time, regenerated when served.
        #expect(s.streams[0].events[0].value == without(["timestamp"], Self.incident1))
        #expect(s.replies == 1)
        #expect(s.yaml.contains("    events:\n      - at: 0.25s\n        event:\n          type: incident\n"))
    }

    @Test func servingTheScenarioGivesTheRecordedMessagesBack() async throws {
        let path = try await record(profile: "ops-control-center", [(opened: 0, frames: [
            .server(0.5, Self.incident1), .server(0.75, Self.alert), .server(1.0, Self.incident2),
        ])])
        let played = try replayed(try generate(path, profile: "ops-control-center"), profile: "ops-control-center")
        #expect(played.map { $0.time } == [0.5, 0.75, 1.0])
        #expect(played.map { without(["timestamp"], $0.frame) } == [Self.incident1, Self.alert, Self.incident2].map { without(["timestamp"], $0) })
    }

    @Test func repliesHeartbeatsAndErrorsOfTheProfileAreNotEvents() async throws {
        let path = try await record(profile: "neurallog", [(opened: 0, frames: [
            .server(0.001, ["type": "stream_start", "id": "msg-1", "data": ["query": "", "filter": [:], "follow": true], "timestamp": "2026-01-01T00:00:00.001Z"]),
            .server(0.3, ["type": "heartbeat", "id": "hb-1-1", "timestamp": "2026-01-01T00:00:00.300Z"]),
            .client(0.31, ["type": "heartbeat_ack", "id": "hb-1-1"]),
            .client(0.32, ["type": "command", "id": "c1", "data": ["action": "explode"]]),
            .server(0.33, ["type": "error", "id": "err-7", "data": ["code": "unknown_command", "message": "Unknown command action: explode", "details": ["command_id": "c1"]], "timestamp": "2026-01-01T00:00:00.330Z"]),
            .server(0.5, ["type": "log", "id": "msg-2", "data": ["id": "log-1", "level": "ERROR", "message": "disk full"], "timestamp": "2026-01-01T00:00:00.500Z"]),
        ])])
        let s = try generate(path, profile: "neurallog")
        #expect(s.streams.map(\.name) == ["log"])
        #expect(s.streams[0].events.map(\.value) == [["type": "log", "data": ["id": "log-1", "level": "ERROR", "message": "disk full"]]])
        #expect(s.replies == 3)
    }

    @Test func aBaseScenarioGivesEntitiesHiddenFieldsAndLeavesHistoryOut() async throws {
        let base = """
            scenario: original
            profile: neurallog
            entities:
              api_keys: { key-1: { tenant_id: acme } }
              past_logs:
                - { id: past-1, level: ERROR, message: old news }
            streams:
              - name: errors
                every: 1s
                count: 3
                event: { type: log, tenant_id: acme, data: { id: "log-{{ seq() }}", level: ERROR, message: disk full } }
            """
        let path = try await record(profile: "neurallog", [(opened: 0, frames: [
            .server(0.002, ["type": "log", "id": "msg-1", "data": ["id": "past-1", "level": "ERROR", "message": "old news"], "timestamp": "x"]),
            .server(0.5, ["type": "log", "id": "msg-2", "data": ["id": "log-2", "level": "ERROR", "message": "disk full"], "timestamp": "y"]),
        ])])
        let s = try generate(path, profile: "neurallog", base: base)
        #expect(s.history == 1)
        #expect(s.streams.flatMap(\.events).map(\.value) == [["type": "log", "tenant_id": "acme", "data": ["id": "log-2", "level": "ERROR", "message": "disk full"]]])
        #expect(s.entities["api_keys"]?["key-1"]?["tenant_id"] == "acme")
        #expect(s.yaml.contains("entities:\n  api_keys:\n"))
    }

    @Test func aConditionalEnvelopeIsReadBackBranchByBranch() async throws {
        let log: Value = ["id": "l1", "userId": "user-alice", "level": "info", "command": "FETCH"]
        let path = try await record(profile: "unified-logs", [(opened: 0, frames: [
            .server(0.001, ["type": "initial-logs", "logs": [], "timestamp": "t0"]),
            .client(0.002, ["type": "ping"]),
            .server(0.003, ["type": "pong"]),
            .server(0.1, ["type": "log", "log": log, "timestamp": "t1"]),
            .server(0.2, ["type": "job-event", "channel": "jobs", "data": ["jobId": "job-1", "status": "completed"], "timestamp": "t2"]),
        ])])
        let s = try generate(path, profile: "unified-logs")
        #expect(s.streams.map(\.name) == ["log", "job-event"])
        #expect(s.streams.flatMap(\.events).map(\.value) == [
            ["type": "log", "log": log],
            ["type": "job-event", "data": ["jobId": "job-1", "status": "completed"]],
        ])
        #expect(s.replies == 2)
        let played = try replayed(s, profile: "unified-logs")
        #expect(played.map { without(["timestamp"], $0.frame) } == [
            ["type": "log", "log": log],
            ["type": "job-event", "channel": "jobs", "data": ["jobId": "job-1", "status": "completed"]],
        ])
    }

    @Test func binaryProtobufFramesAreDecodedWithTheProfilesCodec() async throws {
        let profile = try ProfileLoader().load("workitems-protobuf")
        guard case .protobuf(let descriptor, let message) = profile.codec else { Issue.record("not protobuf"); return }
        let codec = try ProtobufCodec(pool: DescriptorPool(contentsOf: descriptor), messageType: message)
        let created: Value = ["workItemCreated": ["workItem": ["id": "task-101", "title": "Fix login bug", "projectId": "project-1"], "userId": "user-2"]]
        let confirmed: Value = ["messageId": "m1", "timestamp": "1800000000000", "subscriptionConfirmed": ["subscribedProjectIds": ["project-1"]]]
        let path = try await record(profile: "workitems-protobuf", [(opened: 0, frames: [
            .binary(0.01, try codec.encode(confirmed)),
            .binary(0.25, try codec.encode((["messageId": "m2", "timestamp": "1800000000250"] as Value).merging(created))),
        ])])
        let s = try generate(path, profile: "workitems-protobuf")
        #expect(s.streams.map(\.name) == ["workItemCreated"])
        #expect(s.streams.first?.events.map(\.value) == [["payload": created]])
        // From the subscription confirmation, the first message of the connection.
        #expect(s.streams.first?.events.map(\.time) == [0.24])
        #expect(s.replies == 1)
        #expect(s.undecodable == 0)
    }

    @Test func fragmentedBinaryMessagesAreJoinedBeforeDecoding() async throws {
        let profile = try ProfileLoader().load("workitems-protobuf")
        guard case .protobuf(let descriptor, let message) = profile.codec else { Issue.record("not protobuf"); return }
        let codec = try ProtobufCodec(pool: DescriptorPool(contentsOf: descriptor), messageType: message)
        let created: Value = ["workItemCreated": ["workItem": ["id": "task-7", "title": "A long title to split"], "userId": "user-1"]]
        let bytes = try codec.encode((["messageId": "m1", "timestamp": "1800000000000"] as Value).merging(created))
        let third = bytes.count / 3
        let path = try await record(profile: "workitems-protobuf", [(opened: 0, frames: [
            .fragment(0.5, Array(bytes[..<third]), first: true, last: false),
            .fragment(0.5, Array(bytes[third..<(2 * third)]), first: false, last: false),
            .fragment(0.5, Array(bytes[(2 * third)...]), first: false, last: true),
        ])])
        let s = try generate(path, profile: "workitems-protobuf")
        #expect(s.serverMessages == 1)
        #expect(s.streams.first?.events.map(\.value) == [["payload": created]])
    }

    @Test func withoutAProfileMessagesAreWrittenAsTheyAre() async throws {
        let path = try await record(profile: nil, [
            (opened: 0, frames: [.server(0.1, ["event": "tick", "n": 1]), .server(0.2, ["event": "tock"]), .server(0.3, ["event": "tick", "n": 2])]),
            // A second client got the same broadcast: it is not written twice.
            (opened: 0.05, frames: [.server(0.05, ["event": "tick", "n": 1])]),
        ])
        let s = try generate(path, profile: nil)
        #expect(s.streams.map(\.name) == ["tick", "tock"])
        #expect(s.streams[0].events.map(\.value) == [["event": "tick", "n": 1], ["event": "tick", "n": 2]])
        #expect(s.duplicates == 1)
        #expect(s.yaml.contains("# profile:"))
    }

    @Test func recordedTextIsNeverEvaluatedAsATemplate() async throws {
        let tricky: Value = ["type": "note", "text": "{{ 1 + 1 }} isn't 2", "yes": "no", "n": "42", "empty": "", "multi": "a\nb: c", "f": 1.5, "big": 1e20]
        let path = try await record(profile: nil, [(opened: 0, frames: [.server(0.1, tricky)])])
        let s = try generate(path, profile: nil)
        let loaded = try ScenarioLoader().load(text: s.yaml + "profile: ops-control-center\n", file: "g.yaml")
        #expect(try Timeline(scenario: loaded).prefix(5).map(\.value) == [tricky])
    }

    @Test func anUnreadableRecordingOrUnknownProfileIsAClearError() throws {
        #expect {
            _ = try ScenarioGenerator().generate(recording: "/nonexistent/rec.sqlite")
        } throws: { error in
            "\(error)".hasPrefix("cannot read recording /nonexistent/rec.sqlite")
        }
        #expect {
            _ = try ProfileLoader().load("ops-control-centre")
        } throws: { error in
            "\(error)".contains("did you mean 'ops-control-center'?")
        }
    }
}

/// The YAML writer: whatever a recording holds comes back from the scenario loader unchanged.
@Suite("Scenario YAML writer")
struct ScenarioYAMLWriterTests {
    /// Deterministic pseudo-random values made of text YAML and templates could misread.
    struct Maker {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        static let pieces = [
            "a", "Z", " ", "  ", ":", ": ", "#", " #", "-", "- ", "?", "'", "\"", "\\", "{{", "}}", "{", "}", "[", "]",
            ",", "&", "*", "!", "|", ">", "%", "@", "`", "\n", "\t", "é", "日本", "😀", "0", "1.5", "1e3", "0x1F",
            "true", "no", "null", "~", ".inf", "-", "NaN", "2024-01-01", "12:30", "Yes", "",
        ]
        mutating func text() -> String { (0..<next(4)).map { _ in Self.pieces[next(Self.pieces.count)] }.joined() }
        mutating func value(depth: Int) -> Value {
            switch next(depth > 2 ? 6 : 8) {
            case 0: return .null
            case 1: return .bool(next(2) == 0)
            case 2: return .int(next(2000) - 1000)
            case 3: return .double(Double(next(100000)) / 64 - 700)
            case 4, 5: return .string(text())
            case 6: return .array((0..<next(4)).map { _ in value(depth: depth + 1) })
            default:
                var o = OrderedDictionary<String, Value>()
                for _ in 0..<next(4) {
                    var k = text()
                    if k.hasSuffix("?") { k += "x" }  // `key?:` means an optional key in templates
                    o[k] = value(depth: depth + 1)
                }
                return .object(o)
            }
        }
    }

    @Test func recordedValuesComeBackUnchanged() throws {
        var maker = Maker(state: 42)
        for round in 0..<300 {
            let value = maker.value(depth: 0)
            var scenario = GeneratedScenario(name: "fuzz \(round): {{ x }}", profile: "ops-control-center", recording: "r.sqlite")
            scenario.streams = [GeneratedScenario.Stream(name: "s", events: [GeneratedScenario.Event(time: 0.5, value: value)])]
            scenario.vars = ["v": value]
            let loaded = try ScenarioLoader().load(text: scenario.yaml, file: "fuzz.yaml")
            let events = try Timeline(scenario: loaded).prefix(2)
            #expect(events.map(\.value) == [value], "round \(round):\n\(scenario.yaml)")
            #expect(loaded.vars["v"] == value)
            if events.map(\.value) != [value] { break }
        }
    }
}
