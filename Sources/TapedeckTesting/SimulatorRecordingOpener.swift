public import Foundation
public import Logging
import TapedeckCore
public import TapedeckProtocol
public import TapedeckRecording
public import TapedeckServer

/// Opens the recordings the control API starts (`POST /_tapedeck/recording/start`): a
/// ``RecordingWriter`` with a ``SimulatorRecorder`` tapping into it, as `serve --record` makes.
public struct SimulatorRecordingOpener: RecordingOpener {
    let logger: Logger
    let profiles: [String: Profile]
    let scenario: String
    let durability: RecordingDurability

    /// - Parameters:
    ///   - profiles: the served profiles by name (binary frames are stored decoded through them).
    ///   - scenario: the scenario names, for the recording's metadata.
    public init(logger: Logger, profiles: [String: Profile], scenario: String, durability: RecordingDurability = .normal) {
        self.logger = logger
        self.profiles = profiles
        self.scenario = scenario
        self.durability = durability
    }

    public func open(path: String, overwrite: Bool, metrics: ServerMetrics) async throws -> any RecordingSink {
        let writer = try await RecordingWriter.open(
            path: path,
            metadata: RecordingMetadata(
                name: (path as NSString).lastPathComponent, scenario: scenario, profile: profiles.keys.sorted().joined(separator: ","),
                tags: ["simulator", "control-api"]),
            configuration: RecordingConfiguration(durability: durability, overwrite: overwrite, onCommit: metrics.recorderCommitHandler))
        return SimulatorRecorder(writer: writer, logger: logger, profiles: profiles, onFrame: { metrics.recorded(frames: 1) })
    }
}

extension ServerMetrics {
    /// Counts each batch the writer commits: its frames, and how long its oldest frame waited.
    public var recorderCommitHandler: @Sendable (CommittedBatch) -> Void {
        { [self] batch in recorderCommitted(frames: batch.frameCount, wait: batch.oldestFrameWait) }
    }
}

extension SimulatorRecorder: RecordingSink {
    public var progress: RecordingProgress {
        let s = writer.statistics
        return RecordingProgress(connections: s.connections, framesAccepted: s.framesAccepted, framesCommitted: s.framesCommitted)
    }

    public func finish() async throws -> RecordingProgress {
        let s = try await writer.finish()
        return RecordingProgress(connections: s.connections, framesAccepted: s.framesAccepted, framesCommitted: s.framesCommitted)
    }
}
