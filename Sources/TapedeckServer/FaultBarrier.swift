import Synchronization

/// Puts a timeline's scheduled faults before its events at the same scenario time.
///
/// The faults are carried out by their own task, the events by the play loop; without an order
/// between the two, a fault and an event due at the same moment went out in either order. With
/// the barrier, an event at scenario time `t` is handed over only once every fault at or before
/// `t` has been carried out (or skipped: jumped over by a seek, its scenario unloaded).
final class FaultBarrier: Sendable {
    private struct State {
        /// The scenario time of the first fault not yet dealt with; `.infinity` when none is left.
        var next: Double
        var waiters: [(time: Double, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state: Mutex<State>

    /// `time`: the scenario time of the first fault (`nil`: there is none).
    init(firstFaultAt time: Double?) {
        state = Mutex(State(next: time ?? .infinity))
    }

    /// The scenario time of the next fault still to be dealt with (`.infinity`: none).
    var nextFault: Double { state.withLock { $0.next } }

    /// Returns once no fault at or before scenario `time` is left to deal with.
    func wait(through time: Double) async {
        if state.withLock({ time < $0.next }) { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if time < s.next { return true }
                s.waiters.append((time, c))
                return false
            }
            if now { c.resume() }
        }
    }

    /// Every fault before scenario `time` has been dealt with; `time` is the next one's
    /// (`.infinity` once the last is done, or when no more will be).
    func advance(to time: Double) {
        let ready = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.next = time
            var ready: [CheckedContinuation<Void, Never>] = []
            s.waiters.removeAll { w in
                guard w.time < time else { return false }
                ready.append(w.continuation)
                return true
            }
            return ready
        }
        for c in ready { c.resume() }
    }
}
