import Synchronization

/// Lets an in-process caller (the test runner) wait for the simulator deterministically, instead
/// of sleeping: it counts the client messages the server has handled, the hub's deliveries still
/// in flight, and the bytes written to each connection.
///
/// A message counts as handled once the connection's engine has run on it and the replies and
/// closes it produced have been written to the socket. Pass one probe to ``SimulatorServer``'s
/// initializer; it counts the messages of every connection of that server.
///
/// With ``pendingDeliveries`` at zero and a client that has read ``bytesWritten(toPeerPort:)``
/// bytes of WebSocket frames, everything the server meant for that client so far has arrived.
public final class SimulatorProbe: Sendable {
    private struct State {
        var handled = 0
        var waiters: [Int: (count: Int, continuation: CheckedContinuation<Void, Never>)] = [:]
        var nextWaiter = 0
        var pendingDeliveries = 0
        var written: [Int: Int] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Client messages handled so far, over all connections.
    public var handledCount: Int { state.withLock { $0.handled } }

    /// Returns once at least `count` client messages have been handled (or the task is cancelled).
    public func waitUntilHandled(atLeast count: Int) async {
        let id = state.withLock { s in
            s.nextWaiter += 1
            return s.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.handled >= count || Task.isCancelled { return true }
                    s.waiters[id] = (count, c)
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume()
        }
    }

    /// Hub deliveries posted to an event loop and not yet written.
    public var pendingDeliveries: Int { state.withLock { $0.pendingDeliveries } }

    /// The bytes of WebSocket frames written so far to the connection whose client uses `port`.
    public func bytesWritten(toPeerPort port: Int) -> Int { state.withLock { $0.written[port] ?? 0 } }

    /// A delivery was posted to an event loop.
    func deliveryPosted() { state.withLock { $0.pendingDeliveries += 1 } }

    /// `count` posted deliveries were written.
    func deliveriesDone(_ count: Int) { state.withLock { $0.pendingDeliveries -= count } }

    /// Frame bytes were written to the connection whose client uses `port`.
    func wrote(_ bytes: Int, toPeerPort port: Int) { state.withLock { $0.written[port, default: 0] += bytes } }

    /// One more client message was handled.
    func messageHandled() {
        let ready = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.handled += 1
            guard !s.waiters.isEmpty else { return [] }
            let due = s.waiters.filter { $0.value.count <= s.handled }
            for id in due.keys { s.waiters[id] = nil }
            return due.values.map(\.continuation)
        }
        for c in ready { c.resume() }
    }
}
