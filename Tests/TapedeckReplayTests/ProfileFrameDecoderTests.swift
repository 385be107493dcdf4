import Foundation
import TapedeckCore
import TapedeckProtocol
import TapedeckRecording
import Testing
@testable import TapedeckReplay

@Suite("Binary recordings decode through the profile's codec")
struct ProfileFrameDecoderTests {
    static let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("recordings/workitems-protobuf-sprint-day.sqlite").path

    @Test("a workitems-protobuf frame decodes to its proto3 JSON form; JSON text decodes without a profile")
    func decodes() throws {
        let decoder = ProfileFrameDecoder(profiles: "workitems-protobuf")
        #expect(decoder.decodesBinary)
        let frames = try RecordingReader(path: Self.sample).frames().map(\.frame)
        let first = try #require(frames.first { $0.direction == .clientToServer && $0.opcode == .binary })
        let value = try #require(decoder.decode(binary: true, first.payload))
        #expect(value["subscribe"] != nil)
        #expect(ProfileFrameDecoder(profiles: nil).decode(binary: true, first.payload) == nil)
        #expect(ProfileFrameDecoder(profiles: nil).decode(binary: false, Array(#"{"a":1}"#.utf8)) == ["a": 1])
    }

    @Test("reactive matching of protobuf frames compares decoded values, so a changed field is named by its path")
    func matchesDecoded() throws {
        let decoder = ProfileFrameDecoder(profiles: "workitems-protobuf")
        let frames = try RecordingReader(path: Self.sample).frames().map(\.frame)
        let connection = ConnectionInfo(path: "/ws", openedAt: FrameTimestamp(offsetNanos: 0, wallNanos: 0))
        let script = ReplayScript(id: ConnectionID(rawValue: 1), info: connection, frames: frames, side: .serverToClient)
        var machine = ReplayStateMachine(
            script: script, configuration: ReplayConfiguration(speed: .max, onMismatch: .close),
            matcher: try ReplayMatchers.make(profiles: "workitems-protobuf", ignore: []),
            decoder: { op, bytes in decoder.decode(binary: op == .binary, bytes) })
        _ = machine.start(now: .zero)
        // Another subscription than the recorded one: sprint-6 instead of sprint-5.
        let first = try #require(frames.first { $0.direction == .clientToServer && $0.opcode == .binary })
        var value = try #require(decoder.decode(binary: true, first.payload))
        let codecValue = value
        value = try Value(json: codecValue.jsonString.replacingOccurrences(of: "sprint-5", with: "sprint-6"))
        #expect(value != codecValue)
        let wrong = try #require(Self.encode(value))
        let actions = machine.received(ScriptMessage(opcode: .binary, payload: wrong), now: .zero)
        let difference = try #require(actions.mismatch)
        #expect(difference.path.hasPrefix("$.subscribe.sprintIds"))
    }

    static func encode(_ value: Value) -> [UInt8]? {
        guard let profile = try? ProfileLoader().load("workitems-protobuf"), case .protobuf = profile.codec else { return nil }
        return ProfileFrameDecoder(profile: profile).encode(value)
    }
}
