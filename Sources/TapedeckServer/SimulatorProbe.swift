import Synchronization

/// Lets an in-process caller (the test runner) wait for the simulator deterministically, instead
/// of sleeping: it counts the client messages the server has handled.
///
/// A message counts as handled once the connection's engine has run on it and the replies and
/// closes it produced have been written to the socket. Pass one probe to ``SimulatorServer``'s
/// initializer; it counts the messages of every connection of that server.
public final class SimulatorProbe: Sendable {
    private struct State {
        var handled = 0
        var waiters: [Int: (count: Int, continuation: CheckedContinuation<Void, Never>)] = [:]
        var nextWaiter = 0
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
