import Synchronization
import TapedeckCore
import TapedeckScenario

/// Decides when a timeline starts, by ``StartPolicy``: it is told of connections and client
/// messages, and `wait` returns when the policy says the timeline starts.
///
/// Time is the injected clock's: the grace is a deadline it sleeps until, never a poll.
final class TimelineStart: Sendable {
    private struct State {
        var firstConnection: Duration?
        var messaged = false
        var stopped = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0

        mutating func takeWaiters() -> [CheckedContinuation<Void, Never>] {
            let w = Array(waiters.values)
            waiters = [:]
            return w
        }
    }

    let clock: any SimulationClock
    private let state = Mutex(State())
    /// Set once a message was seen, so that later messages cost one atomic load.
    private let messaged = Atomic(false)

    init(clock: any SimulationClock) {
        self.clock = clock
    }

    /// A client connected.
    func connected() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard s.firstConnection == nil else { return [] }
            s.firstConnection = clock.elapsed
            return s.takeWaiters()
        }
        for w in waiters { w.resume() }
    }

    /// A client sent a message.
    func messageReceived() {
        guard !messaged.load(ordering: .relaxed) else { return }
        messaged.store(true, ordering: .relaxed)
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.messaged = true
            return s.takeWaiters()
        }
        for w in waiters { w.resume() }
    }

    /// The server is stopping: every wait returns.
    func stop() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.stopped = true
            return s.takeWaiters()
        }
        for w in waiters { w.resume() }
    }

    /// Returns when the timeline starts by `policy` (or the server stops, or the task is cancelled).
    func wait(_ policy: StartPolicy, grace: Double) async {
        switch policy {
        case .immediately:
            return
        case .firstConnection:
            await waitUntil { $0.firstConnection != nil }
        case .firstMessage:
            await waitUntil { $0.firstConnection != nil || $0.messaged }
            guard let first = state.withLock({ $0.stopped || $0.messaged ? nil : $0.firstConnection }) else { return }
            let deadline = first + .nanoseconds(Int64((grace * 1e9).rounded()))
            let clock = self.clock
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.waitUntil { $0.messaged } }
                group.addTask { try? await clock.sleep(until: deadline) }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// Suspends until `condition` holds (checked again at each change), the server stops, or the
    /// task is cancelled.
    private func waitUntil(_ condition: @escaping @Sendable (State) -> Bool) async {
        while !Task.isCancelled {
            let id = state.withLock { s in
                s.nextWaiter += 1
                return s.nextWaiter
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let now = state.withLock { s -> Bool in
                        if s.stopped || condition(s) || Task.isCancelled { return true }
                        s.waiters[id] = c
                        return false
                    }
                    if now { c.resume() }
                }
            } onCancel: {
                state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
            }
            if state.withLock({ $0.stopped || condition($0) }) { return }
        }
    }
}
