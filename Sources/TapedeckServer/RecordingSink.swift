/// A recording being written: it taps connections and frames, reports its progress, and is
/// finished (flushed and closed) once.
public protocol RecordingSink: SimulatorTap {
    /// What was written so far.
    var progress: RecordingProgress { get }
    /// Commits what is queued and closes the file; returns the final progress.
    func finish() async throws -> RecordingProgress
}
