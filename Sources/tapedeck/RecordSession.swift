import ServiceLifecycle
import Synchronization
import TapedeckRecording

/// `tapedeck record` while it runs: shows progress and waits for a reason to stop (a graceful
/// shutdown from SIGINT or SIGTERM, `--max-frames`, `--max-duration`, a failed recording), then
/// stops the proxy. The writer, started before it in the same group, finishes the file after it.
final class RecordSession: Service {
    let proxy: RecordingProxy
    let writer: RecordingWriter
    let maxDuration: Duration?
    let progress: RecordProgress
    /// Printed when the session runs: by then the group traps SIGINT and SIGTERM, so a script that
    /// waits for this line may signal at once.
    let announcement: String
    private let stopReason = Mutex("stopped")

    init(proxy: RecordingProxy, writer: RecordingWriter, maxDuration: Duration?, progress: RecordProgress, announcement: String) {
        self.announcement = announcement
        self.proxy = proxy
        self.writer = writer
        self.maxDuration = maxDuration
        self.progress = progress
    }

    /// Why the recording stopped.
    var reason: String { stopReason.withLock { $0 } }

    func run() async {
        RecordCommand.emit(announcement)
        let proxy = self.proxy, writer = self.writer, progress = self.progress, maxDuration = self.maxDuration
        let reason: String = await withTaskGroup(of: String?.self) { group in
            group.addTask {
                for await r in proxy.stopRequests {
                    return r == .maxFramesReached ? "--max-frames reached" : "the recording failed"
                }
                return nil
            }
            group.addTask {
                do {
                    try await gracefulShutdown()
                    return "received SIGINT or SIGTERM"
                } catch {
                    return nil
                }
            }
            if let maxDuration {
                group.addTask {
                    try? await Task.sleep(for: maxDuration)
                    return Task.isCancelled ? nil : "--max-duration reached"
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    progress.show(writer.statistics, active: proxy.activeConnections)
                    try? await Task.sleep(for: .milliseconds(250))
                }
                return nil
            }
            var reason = "stopped"
            while let r = await group.next() {
                if let r {
                    reason = r
                    break
                }
            }
            group.cancelAll()
            return reason
        }
        stopReason.withLock { $0 = reason }
        await proxy.stop()
    }
}
