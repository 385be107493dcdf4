/// Hands one connection's tap calls to the tap in order, off the event loop.
///
/// The connection's handler runs on its event loop and cannot await the tap; it yields what
/// happened here, and one task per tapped connection makes the calls in that order.
final class TapFeed: Sendable {
    enum Event: Sendable {
        case opened(TappedConnection)
        case frame(fromClient: Bool, TappedFrame)
        case closed(code: Int?, reason: String?)
    }

    private let continuation: AsyncStream<Event>.Continuation
    /// Frames are handed over only while it records (opens and closes always).
    private let recording: RecordingControl?

    init(tap: any SimulatorTap, connection: Int, framesOnlyWhile recording: RecordingControl? = nil) {
        self.recording = recording
        let (stream, continuation) = AsyncStream<Event>.makeStream()
        self.continuation = continuation
        Task {
            for await event in stream {
                switch event {
                case .opened(let c): await tap.opened(c)
                case .frame(let fromClient, let f): await tap.frame(connection: connection, fromClient: fromClient, f)
                case .closed(let code, let reason): await tap.closed(connection: connection, code: code, reason: reason)
                }
            }
        }
    }

    func send(_ event: Event) {
        if case .frame = event, let recording, !recording.isRecording { return }
        continuation.yield(event)
    }

    /// A frame the server wrote.
    func sent(_ item: OutboundItem) {
        // Checked before the event is made: this runs for every frame written to every connection.
        if let recording, !recording.isRecording { return }
        switch item {
        case .text(let s): send(.frame(fromClient: false, .text(s)))
        case .binary(let b): send(.frame(fromClient: false, .binary(b)))
        case .close(let code, let reason): send(.frame(fromClient: false, .close(code: code, reason: reason)))
        }
    }

    /// No more calls: the task ends once it has made the ones queued.
    func finish() { continuation.finish() }
}
