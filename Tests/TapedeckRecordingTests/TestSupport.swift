import Foundation
import TapedeckCore
@testable import TapedeckRecording

/// A temporary directory removed when the value is deinitialised.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("tapedeck-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// The bytes of every file in the directory (the database, its WAL and shared memory).
    func allBytes() throws -> Data {
        var data = Data()
        for name in try FileManager.default.contentsOfDirectory(atPath: url.path) {
            data.append(try Data(contentsOf: url.appendingPathComponent(name)))
        }
        return data
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

extension Data {
    func contains(_ text: String) -> Bool { range(of: Data(text.utf8)) != nil }
}

/// Collects acknowledged batches from `onCommit`.
final class CommitLog: Sendable {
    let stream: AsyncStream<CommittedBatch>
    let continuation: AsyncStream<CommittedBatch>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream()
    }

    var callback: @Sendable (CommittedBatch) -> Void {
        let c = continuation
        return { c.yield($0) }
    }

    /// Waits until batches holding at least `frames` frames have been acknowledged.
    func waitForFrames(_ frames: Int) async -> [CommittedBatch] {
        var seen: [CommittedBatch] = []
        var total = 0
        for await b in stream {
            seen.append(b)
            total += b.frameCount
            if total >= frames { break }
        }
        return seen
    }
}

func text(_ s: String) -> [UInt8] { Array(s.utf8) }
