import Foundation
import Synchronization
import TapedeckCore

/// Starts and stops a recording of a running server (the control API's `/_tapedeck/recording`).
///
/// It is the server's tap while the control API can record: it keeps the connections that are
/// open, and while a recording runs hands it every tap call. A recording started while
/// connections are open records them from that moment on (their upgrade as it was, then the frames
/// from the start). One recording at a time; stopping it commits what is queued and closes the file.
final class RecordingControl: SimulatorTap {
    /// A recording that runs.
    struct Active: Sendable {
        var path: String
        var sink: any RecordingSink
        var startedAt: Double
    }

    /// Why a start or a stop is refused.
    enum Refusal: Error, Sendable {
        case running(String)
        case notRunning
        case exists(String)
        case cannotOpen(String, String)
    }

    private struct State {
        var open: [Int: TappedConnection] = [:]
        var active: Active?
        var starting = false
    }

    let opener: any RecordingOpener
    let metrics: ServerMetrics
    let clock: any SimulationClock
    private let state = Mutex(State())
    private let recording = Atomic<Bool>(false)

    init(opener: any RecordingOpener, metrics: ServerMetrics, clock: any SimulationClock) {
        self.opener = opener
        self.metrics = metrics
        self.clock = clock
    }

    /// Whether a recording runs (read on every frame: one atomic load).
    var isRecording: Bool { recording.load(ordering: .relaxed) }

    /// The recording that runs, if any.
    var active: Active? { state.withLock { $0.active } }

    /// Opens a recording at `path` and records the open connections from now on.
    func start(path: String, overwrite: Bool) async throws(Refusal) -> Active {
        try state.withLock { s throws(Refusal) in
            if let a = s.active { throw .running(a.path) }
            if s.starting { throw .running(path) }
            s.starting = true
        }
        let sink: any RecordingSink
        do {
            if !overwrite && FileManager.default.fileExists(atPath: path) { throw Refusal.exists(path) }
            sink = try await opener.open(path: path, overwrite: overwrite, metrics: metrics)
        } catch {
            state.withLock { $0.starting = false }
            if let r = error as? Refusal { throw r }
            throw .cannotOpen(path, "\(error)")
        }
        let active = Active(path: path, sink: sink, startedAt: clock.wallTime)
        // Under one lock with `opened`: a connection is announced either here or by its own call.
        let open = state.withLock { s in
            s.starting = false
            s.active = active
            return s.open.values.sorted { $0.id < $1.id }
        }
        recording.store(true, ordering: .releasing)
        for c in open { await sink.opened(c) }
        return active
    }

    /// Stops the recording: commits what is queued and closes the file.
    func stop() async throws(Refusal) -> (Active, Result<RecordingProgress, any Error>) {
        let taken = state.withLock { s -> Active? in
            defer { s.active = nil }
            return s.active
        }
        guard let taken else { throw .notRunning }
        recording.store(false, ordering: .releasing)
        do {
            return (taken, .success(try await taken.sink.finish()))
        } catch {
            return (taken, .failure(error))
        }
    }

    /// Stops a running recording, if any (on shutdown).
    func stopIfRunning() async {
        _ = try? await stop()
    }

    // MARK: SimulatorTap

    func opened(_ connection: TappedConnection) async {
        let sink = state.withLock { s -> (any RecordingSink)? in
            s.open[connection.id] = connection
            return s.active?.sink
        }
        await sink?.opened(connection)
    }

    func frame(connection: Int, fromClient: Bool, _ frame: TappedFrame) async {
        guard isRecording, let sink = state.withLock({ $0.active?.sink }) else { return }
        await sink.frame(connection: connection, fromClient: fromClient, frame)
    }

    func closed(connection: Int, code: Int?, reason: String?) async {
        let sink = state.withLock { s -> (any RecordingSink)? in
            s.open[connection] = nil
            return s.active?.sink
        }
        await sink?.closed(connection: connection, code: code, reason: reason)
    }

    func refused(_ refusal: TappedRefusal) async {
        await state.withLock { $0.active?.sink }?.refused(refusal)
    }

    func http(_ request: TappedHTTPRequest) async {
        await state.withLock { $0.active?.sink }?.http(request)
    }
}
