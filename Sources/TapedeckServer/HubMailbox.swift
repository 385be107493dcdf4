import NIOCore
import Synchronization

/// The events waiting for one event loop: the hub posts, the loop takes everything posted so far in
/// one task.
///
/// While the loop is busy, posts pile up here and are delivered together, so each connection is
/// flushed once for all of them: the busier the server, the larger its writes, and the loop's task
/// queue never grows with the event rate.
final class HubMailbox: Sendable {
    struct Entry: Sendable {
        var connections: [SimulatorConnection]
        var events: [PreparedEvent]
        var mayDrop: Bool
    }

    private struct State {
        var entries: [Entry] = []
        var scheduled = false
    }

    let loop: any EventLoop
    private let probe: SimulatorProbe?
    private let state = Mutex(State())

    init(loop: any EventLoop, probe: SimulatorProbe?) {
        self.loop = loop
        self.probe = probe
    }

    func post(_ entry: Entry) {
        probe?.deliveryPosted()
        let schedule = state.withLock { s -> Bool in
            s.entries.append(entry)
            if s.scheduled { return false }
            s.scheduled = true
            return true
        }
        if schedule { loop.execute { self.deliver() } }
    }

    /// On the loop: everything posted so far, in order, then one flush per connection.
    private func deliver() {
        let entries = state.withLock { s -> [Entry] in
            let e = s.entries
            s.entries = []
            s.scheduled = false
            return e
        }
        // With one entry (the usual case at a fixed rate) each connection flushes as it is
        // written to; with several, once after all of them.
        let flushEach = entries.count == 1
        for e in entries {
            // Connections of one delivery class accept the same events: decided once per class.
            let memo = DeliveryMemo()
            for c in e.connections { c.deliver(e.events, mayDrop: e.mayDrop, flush: flushEach, memo: memo) }
        }
        if !flushEach {
            for e in entries {
                for c in e.connections { c.flush() }
            }
        }
        probe?.deliveriesDone(entries.count)
    }
}
