import Foundation
import TapedeckCore
import TapedeckRecording

/// A temporary directory removed when the value is deinitialised.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("tapedeck-replay-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// One connection to write into a test recording.
struct TapeConnection {
    var info: ConnectionInfo
    var tape: Tape
    var close = ConnectionClose()
}

enum ReplayFixtures {
    /// Writes a real recording file with `RecordingWriter`.
    static func write(_ path: String, _ connections: [TapeConnection], profile: String? = nil) async throws {
        let writer = try await RecordingWriter.open(path: path, metadata: RecordingMetadata(name: "test", profile: profile))
        for c in connections {
            var info = c.info
            if info.openedAt == nil { info.openedAt = FrameTimestamp(offsetNanos: 0, wallNanos: 0) }
            let id = try await writer.beginConnection(info)
            for var f in c.tape.frames {
                f.connection = id
                f.decoded = Optional<Value>.none
                try await writer.append(f)
            }
            try await writer.endConnection(id, close: c.close)
        }
        try await writer.finish()
    }

    /// Connections on these paths, read back from a real recording.
    static func connections(paths: [String]) async throws -> [StoredConnection] {
        let dir = try TemporaryDirectory()
        let path = dir.path("c.sqlite")
        try await write(path, paths.map { TapeConnection(info: ConnectionInfo(path: $0), tape: Tape()) })
        return try RecordingReader(path: path).connections()
    }
}
