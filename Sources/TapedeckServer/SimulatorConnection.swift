import NIOCore
import TapedeckCore

/// One client connection as the hub and the scheduler see it: which profile it speaks, and its
/// event loop, where everything about it happens (see ``WebSocketConnectionHandler``).
final class SimulatorConnection: Sendable {
    let id: Int
    let profileName: String
    /// The WebSocket path it connected to.
    let path: String
    /// Per-connection timeline (per-connection mode), started by `start`.
    let ownsTimeline: Bool
    /// When this connection's private timeline starts.
    let start: TimelineStart
    let eventLoop: any EventLoop
    private let handler: NIOLoopBound<WebSocketConnectionHandler>

    init(id: Int, profileName: String, path: String, ownsTimeline: Bool, clock: any SimulationClock, handler: WebSocketConnectionHandler, eventLoop: any EventLoop) {
        self.id = id
        self.profileName = profileName
        self.path = path
        self.ownsTimeline = ownsTimeline
        self.start = TimelineStart(clock: clock)
        self.eventLoop = eventLoop
        self.handler = NIOLoopBound(handler, eventLoop: eventLoop)
    }

    /// Writes the events this connection accepts, then flushes once. On the event loop.
    ///
    /// With `mayDrop` false (`--speed max`) nothing is dropped: the caller waited for room. With
    /// a `memo`, decisions already made for this connection's delivery class are reused.
    func deliver(_ events: [PreparedEvent], mayDrop: Bool, flush: Bool = true, memo: DeliveryMemo? = nil) {
        handler.value.deliver(events, mayDrop: mayDrop, flush: flush, memo: memo)
    }

    /// Flushes what `deliver(_:mayDrop:flush:)` wrote. On the event loop.
    func flush() {
        handler.value.flush()
    }

    /// `nil` when the queue has room for more events (or the connection is closing), else a future
    /// that completes once it has. On the event loop.
    func roomFuture() -> EventLoopFuture<Void>? {
        handler.value.roomFuture()
    }

    /// Called when the hub has waited its allowance for room: a connection whose queue is still full
    /// stops setting the pace of `--speed max` until it has read everything queued. On the event loop.
    func leaveBehindIfFull() {
        handler.value.leaveBehindIfFull()
    }

    /// What the control API shows of it (from any thread: hops to its event loop).
    func snapshot() async -> ConnectionSnapshot? {
        let handler = self.handler
        return try? await eventLoop.submit { handler.value.snapshot() }.get()
    }

    /// Offers ad-hoc events as the hub delivers scenario events; returns how many it accepted.
    func offer(_ events: [PreparedEvent]) async -> Int {
        let handler = self.handler
        return (try? await eventLoop.submit { handler.value.offer(events) }.get()) ?? 0
    }

    /// An abrupt TCP reset (from any thread).
    func reset() {
        let handler = self.handler
        eventLoop.execute { handler.value.reset() }
    }

    /// Stops writing, reading or both for `duration` (from any thread).
    func stall(for duration: Duration, reading: Bool = false, writing: Bool = true) {
        let handler = self.handler
        eventLoop.execute { handler.value.stall(for: duration, reading: reading, writing: writing) }
    }

    /// Drops, duplicates, reorders, corrupts or delays events for `duration` (from any thread).
    func messageFault(_ fault: MessageFault, for duration: Duration) {
        let handler = self.handler
        eventLoop.execute { handler.value.messageFault(fault, for: duration) }
    }

    /// Paces writes to `bytesPerSecond` for `duration` (from any thread).
    func bandwidth(bytesPerSecond: Int, for duration: Duration) {
        let handler = self.handler
        eventLoop.execute { handler.value.bandwidth(bytesPerSecond: bytesPerSecond, for: duration) }
    }

    /// Closes with `code` after what is queued (from any thread).
    func close(code: Int, reason: String) {
        let handler = self.handler
        eventLoop.execute { handler.value.close(code: code, reason: reason) }
    }
}

/// An event rendered for one profile: its value and topic (for the delivery decision) and its
/// encoded frame, shared by every connection that accepts it.
struct PreparedEvent: Sendable {
    var value: Value
    var topic: String?
    var frame: OutboundFrame
}
