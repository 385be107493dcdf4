import Synchronization
import TapedeckServer

/// The tap of one test's simulator in a golden run: forwards to a `SimulatorRecorder` what the test
/// itself brought about, so that two runs of the same test record the same thing.
///
/// - A connection ends at its first close frame, whichever side sent it: the answering close and the
///   socket's teardown, whose order races, are not recorded.
/// - When the test's last step is done, `seal()` ends the connections still open without a close
///   code: the frames the simulator sends after that and while it shuts down (timers woken by the
///   shutdown, the 1001 "going away") are not the test's; neither are the dropped sockets.
final class GoldenTap: SimulatorTap {
    let recorder: SimulatorRecorder
    private let state = Mutex(State())

    private struct State {
        var sealed = false
        var open: Set<Int> = []
        /// Counts the tap's calls, so `seal()` can wait for the frames already on their way.
        var calls = 0
    }

    init(recorder: SimulatorRecorder) {
        self.recorder = recorder
    }

    func opened(_ connection: TappedConnection) async {
        let record = state.withLock { s in
            s.calls += 1
            guard !s.sealed else { return false }
            s.open.insert(connection.id)
            return true
        }
        if record { await recorder.opened(connection) }
    }

    func frame(connection: Int, fromClient: Bool, _ frame: TappedFrame) async {
        let isClose = if case .close = frame { true } else { false }
        let record = state.withLock { s in
            s.calls += 1
            guard !s.sealed, s.open.contains(connection) else { return false }
            if isClose { s.open.remove(connection) }
            return true
        }
        guard record else { return }
        await recorder.frame(connection: connection, fromClient: fromClient, frame)
        if isClose {
            var code: Int?
            var reason: String?
            if !fromClient, case .close(let c, let r) = frame { (code, reason) = (c, r) }
            await recorder.closed(connection: connection, code: code, reason: reason)
        }
    }

    func closed(connection: Int, code: Int?, reason: String?) async {
        // A connection without a close frame (the test's end drops its sockets, which races with
        // `seal()`) ends at the seal, without a close code.
    }

    func refused(_ refusal: TappedRefusal) async {
        let record = state.withLock { s in
            s.calls += 1
            return !s.sealed
        }
        if record { await recorder.refused(refusal) }
    }

    /// Ends the recording of this test: open connections end without a close code, later frames are
    /// dropped. First waits until the tap has been quiet for a moment (the client may read a frame
    /// before the server's tap has seen it), without moving scenario time.
    func seal() async {
        let start = ContinuousClock.now
        var calls = state.withLock { $0.calls }
        var since = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(2) {
            try? await Task.sleep(for: .milliseconds(5))
            let now = state.withLock { $0.calls }
            if now != calls {
                calls = now
                since = ContinuousClock.now
            } else if ContinuousClock.now - since >= .milliseconds(100) {
                break
            }
        }
        let open = state.withLock { s in
            s.sealed = true
            defer { s.open = [] }
            return s.open.sorted()
        }
        for connection in open { await recorder.closed(connection: connection, code: nil, reason: nil) }
    }
}
