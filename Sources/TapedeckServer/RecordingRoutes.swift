import Foundation
import HTTPTypes
import TapedeckCore

/// `/_tapedeck/recording`: start a recording of the running server, see how far it got, stop it.
struct RecordingRoutes: Sendable {
    typealias Failure = ControlAPI.Failure

    let recording: RecordingControl?

    private func control() throws -> RecordingControl {
        guard let recording else {
            throw Failure(
                status: .notImplemented, error: "cannot_record",
                message: "this server was started without a recording writer (run it with tapedeck serve)")
        }
        return recording
    }

    /// `GET /_tapedeck/recording`.
    func status() -> Value {
        guard let active = recording?.active else { return ["recording": false] }
        return Self.describe(active, progress: active.sink.progress, running: true)
    }

    /// `POST /_tapedeck/recording/start` with `{"path": ..., "overwrite"?: bool}`.
    func start(_ body: Value) async throws -> Value {
        let control = try control()
        guard case .string(let path)? = body["path"], !path.isEmpty else {
            throw Failure.badRequest("'path' is required: the SQLite file to record to, e.g. {\"path\": \"out.sqlite\"}")
        }
        var overwrite = false
        switch body["overwrite"] {
        case nil: break
        case .bool(let b)?: overwrite = b
        default: throw Failure.badRequest("'overwrite' must be true or false")
        }
        do {
            let active = try await control.start(path: path, overwrite: overwrite)
            return Self.describe(active, progress: active.sink.progress, running: true)
        } catch {
            throw Self.failure(error)
        }
    }

    /// `POST /_tapedeck/recording/stop`: commits what is queued and closes the file.
    func stop() async throws -> Value {
        let control = try control()
        let (active, result): (RecordingControl.Active, Result<RecordingProgress, any Error>)
        do { (active, result) = try await control.stop() } catch { throw Self.failure(error) }
        switch result {
        case .success(let progress):
            return Self.describe(active, progress: progress, running: false)
        case .failure(let error):
            throw Failure(status: .internalServerError, error: "recording_failed", message: "the recording \(active.path) failed: \(error)")
        }
    }

    static func failure(_ refusal: RecordingControl.Refusal) -> Failure {
        switch refusal {
        case .running(let path):
            Failure(status: .conflict, error: "recording_running", message: "a recording to \(path) runs: stop it first (POST /_tapedeck/recording/stop)")
        case .notRunning:
            Failure(status: .conflict, error: "not_recording", message: "no recording runs (POST /_tapedeck/recording/start starts one)")
        case .exists(let path):
            Failure(status: .conflict, error: "file_exists", message: "\(path) exists: choose another path, or send \"overwrite\": true to replace it")
        case .cannotOpen(let path, let why):
            Failure(status: .badRequest, error: "cannot_record", message: "cannot record to \(path): \(why)")
        }
    }

    static func describe(_ active: RecordingControl.Active, progress: RecordingProgress, running: Bool) -> Value {
        [
            "recording": .bool(running), "path": .string(active.path),
            "started_at": .string(Timestamp.iso8601(active.startedAt)),
            "frames_written": .int(progress.framesCommitted), "frames_accepted": .int(progress.framesAccepted),
            "connections": .int(progress.connections),
        ]
    }
}
