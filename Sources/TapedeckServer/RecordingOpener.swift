/// Opens recordings for the control API (`POST /_tapedeck/recording/start`).
///
/// The server knows taps, not recording files: whoever runs it (`tapedeck serve`, a test) hands it
/// an opener that makes a file and a tap writing to it.
public protocol RecordingOpener: Sendable {
    /// Creates the recording at `path` (failing when the file exists, unless `overwrite`) and
    /// returns the sink that writes what it is tapped. `metrics` counts its committed batches.
    func open(path: String, overwrite: Bool, metrics: ServerMetrics) async throws -> any RecordingSink
}
