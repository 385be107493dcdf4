import ServiceLifecycle
import Synchronization
import TapedeckRecording

/// Keeps a recording open while the services started after it run, and finishes it (commits what
/// is queued, closes the file) when the group shuts down.
final class RecordingWriterService: Service {
    let writer: RecordingWriter
    private let result = Mutex<Result<RecordingStatistics, any Error>?>(nil)

    init(writer: RecordingWriter) {
        self.writer = writer
    }

    func run() async throws {
        // Returns on graceful shutdown, and throws on cancellation: either way, finish the file.
        try? await gracefulShutdown()
        do {
            let stats = try await writer.finish()
            result.withLock { $0 = .success(stats) }
        } catch {
            result.withLock { $0 = .failure(error) }
            throw error
        }
    }

    /// The statistics of the finished recording; `nil` before it finished.
    var statistics: Result<RecordingStatistics, any Error>? { result.withLock { $0 } }
}
