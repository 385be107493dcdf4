import Foundation
import TapedeckCore
import TapedeckRecording
import Testing

@testable import TapedeckBench

@Suite("recorder ingest benchmark")
struct IngestBenchmarkTests {
    @Test("every frame it reports is in the recording, spread over the connections, decoded as JSON")
    func framesLandOnDisk() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ingest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("bench.sqlite").path
        let report = try await IngestBenchmark(
            configuration: .init(frames: 1001, connections: 3, payloadSize: 150, path: path)
        ).run()
        #expect(report.frames == 1001)
        #expect(report.fileBytes > 1001 * 150)
        let frames = try RecordingReader(path: path).frames()
        #expect(frames.count == 1001)
        #expect(Dictionary(grouping: frames, by: { $0.frame.connection.rawValue }).mapValues(\.count) == [1: 334, 2: 334, 3: 333])
        let first = try #require(frames.first)
        #expect(first.frame.payload.count >= 150 && first.frame.payload.count < 160)
        #expect(first.frame.decoded?["type"]?.stringValue == "metric")
    }

    @Test("payloads are distinct JSON of about the size asked for")
    func payloads() {
        let p = IngestBenchmark.payloads(count: 50, size: 200)
        #expect(Set(p).count == 50)
        #expect(p.allSatisfy { $0.count == 200 })
    }
}
