import Foundation
import Logging
import Testing
import TapedeckCore
import TapedeckRecording
import TapedeckScenario
import TapedeckServer
import TapedeckTesting

/// `/_tapedeck/recording`: a recording started while a client is connected records its frames from
/// then on, into a real SQLite file that stop closes.
@Suite("Recording through the control API")
struct RecordingControlTests {
    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tapedeck-rec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test(.timeLimit(.minutes(1))) func startRecordsAnOpenConnectionFromNowOnAndStopClosesTheFile() async throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("out.sqlite").path
        let world = try SimulatorWorld(scenarios: [ScenarioLoader().load(text: ControlAPITests.scenario(), file: "test.yaml")])
        let opener = SimulatorRecordingOpener(logger: Logger(label: "test"), profiles: world.profiles.mapValues(\.profile), scenario: "control")
        try await withSimulator(scenario: ControlAPITests.scenario(), speed: .factor(1), timeline: .shared, recordings: opener) { port in
            #expect(try await http(port: port, "GET", "/_tapedeck/recording").json == ["recording": false])
            let (steps, step) = AsyncStream<Void>.makeStream()
            let (go, goOn) = AsyncStream<Void>.makeStream()
            async let run = withClient(port: port, path: "/api/ws", headers: try await ControlAPITests.bearer("qa")) { client in
                defer { step.finish() }
                try await client.send(#"{"action":"ping","id":"before"}"#)
                _ = try await client.collect { $0["action"] == "pong" }
                step.yield()
                for await _ in go { break }
                try await client.send(#"{"action":"ping","id":"after"}"#)
                _ = try await client.collect { $0["action"] == "pong" }
                step.yield()
                for await _ in go { break }
                try await client.close()
                return true
            }
            var it = steps.makeAsyncIterator()
            await it.next()
            let started = try await http(port: port, "POST", "/_tapedeck/recording/start", body: #"{"path":"\#(path)"}"#)
            #expect(started.status == 200, "\(started.body)")
            #expect(started.json?["recording"] == true)
            let again = try await http(port: port, "POST", "/_tapedeck/recording/start", body: #"{"path":"\#(path)2"}"#)
            #expect(again.status == 409)
            #expect(again.json?["error"] == "recording_running")
            goOn.yield()
            await it.next()
            let status = try await http(port: port, "GET", "/_tapedeck/recording").json
            #expect(status?["path"] == .string(path))
            #expect(status?["connections"] == 1, "\(status ?? .null)")
            let stopped = try await http(port: port, "POST", "/_tapedeck/recording/stop")
            #expect(stopped.status == 200, "\(stopped.body)")
            #expect(stopped.json?["recording"] == false)
            let written = stopped.json?["frames_written"]?.intValue ?? 0
            #expect(written >= 2, "\(stopped.body)")
            #expect(try await http(port: port, "POST", "/_tapedeck/recording/stop").json?["error"] == "not_recording")
            // The file is closed and complete: the ping after the start and its pong, not the one before.
            let reader = try RecordingReader(path: path)
            #expect(try reader.recording().finishedAtNanos != nil)
            let frames = try reader.frames()
            #expect(frames.count == written)
            let texts = frames.map { String(decoding: $0.frame.payload, as: UTF8.self) }
            #expect(texts.contains { $0.contains("\"after\"") }, "\(texts)")
            #expect(!texts.contains { $0.contains("\"before\"") }, "\(texts)")
            #expect(frames.contains { $0.frame.direction == .serverToClient })
            let exists = try await http(port: port, "POST", "/_tapedeck/recording/start", body: #"{"path":"\#(path)"}"#)
            #expect(exists.status == 409)
            #expect(exists.json?["error"] == "file_exists")
            let over = try await http(port: port, "POST", "/_tapedeck/recording/start", body: #"{"path":"\#(path)","overwrite":true}"#)
            #expect(over.status == 200, "\(over.body)")
            #expect(try await http(port: port, "POST", "/_tapedeck/recording/stop").status == 200)
            let metrics = try await http(port: port, "GET", "/metrics").body
            func value(_ series: String) -> Double? {
                metrics.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
            }
            #expect((value("tapedeck_recorder_frames_committed_total") ?? 0) >= Double(written), "\(metrics)")
            #expect((value("tapedeck_recorder_write_seconds_count") ?? 0) >= 1, "\(metrics)")
            goOn.yield()
            _ = try await run
        }
    }

    @Test(.timeLimit(.minutes(1))) func withoutAWriterTheServerSaysItCannotRecord() async throws {
        try await withSimulator(scenario: ControlAPITests.scenario(), speed: .factor(1), timeline: .shared) { port in
            let r = try await http(port: port, "POST", "/_tapedeck/recording/start", body: #"{"path":"x.sqlite"}"#)
            #expect(r.status == 501)
            #expect(r.json?["error"] == "cannot_record")
            #expect(try await http(port: port, "GET", "/_tapedeck/recording").json == ["recording": false])
        }
    }
}
