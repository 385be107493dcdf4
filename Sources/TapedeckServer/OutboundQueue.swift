import Synchronization
import DequeModule

/// What a connection writes: an encoded frame, or a close.
public enum OutboundItem: Sendable, Equatable {
    case text(String)
    case binary([UInt8])
    case close(code: Int, reason: String)
}

/// A bounded queue between the fan-out and one connection's socket.
///
/// Events beyond `capacity` drop the oldest queued event (and count it); replies and closes are
/// never dropped. A producer that must not drop (the scheduler at `--speed max`) waits for room.
final class OutboundQueue: Sendable {
    private struct State {
        var items: Deque<(item: OutboundItem, droppable: Bool)> = []
        var droppableCount = 0
        var dropped = 0
        var closed = false
        var reader: CheckedContinuation<OutboundItem?, Never>?
        var roomWaiters: [CheckedContinuation<Void, Never>] = []
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Queues an event; returns how many events were dropped to make room (0 or 1).
    @discardableResult
    func pushEvent(_ item: OutboundItem) -> Int {
        push(item, droppable: true)
    }

    /// Queues a reply or a close, never dropped.
    func pushControl(_ item: OutboundItem) {
        push(item, droppable: false)
    }

    private func push(_ item: OutboundItem, droppable: Bool) -> Int {
        let (reader, dropped) = state.withLock { s -> (CheckedContinuation<OutboundItem?, Never>?, Int) in
            guard !s.closed else { return (nil, 0) }
            if let r = s.reader {
                s.reader = nil
                return (r, 0)
            }
            var dropped = 0
            if droppable && s.droppableCount >= capacity, let i = s.items.firstIndex(where: { $0.droppable }) {
                s.items.remove(at: i)
                s.droppableCount -= 1
                s.dropped += 1
                dropped = 1
            }
            s.items.append((item, droppable))
            if droppable { s.droppableCount += 1 }
            return (nil, dropped)
        }
        reader?.resume(returning: item)
        return dropped
    }

    /// Total events dropped so far.
    var droppedCount: Int { state.withLock { $0.dropped } }

    /// Waits until the queue has room for another event (or is closed).
    func waitForRoom() async {
        let hasRoom = state.withLock { $0.closed || $0.droppableCount < capacity }
        if hasRoom { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                if s.closed || s.droppableCount < capacity { return true }
                s.roomWaiters.append(c)
                return false
            }
            if resumeNow { c.resume() }
        }
    }

    /// The next item; `nil` once the queue is finished and empty.
    func next() async -> OutboundItem? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<OutboundItem?, Never>) in
                let (ready, waiters) = state.withLock { s -> (OutboundItem??, [CheckedContinuation<Void, Never>]) in
                    if let first = s.items.popFirst() {
                        if first.droppable { s.droppableCount -= 1 }
                        let w = s.roomWaiters
                        s.roomWaiters = []
                        return (.some(first.item), w)
                    }
                    if s.closed { return (.some(nil), []) }
                    s.reader = c
                    return (nil, [])
                }
                for w in waiters { w.resume() }
                if let ready { c.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }

    /// Ends the queue: pending readers get `nil`, waiting producers go on.
    func finish() {
        let (reader, waiters) = state.withLock { s -> (CheckedContinuation<OutboundItem?, Never>?, [CheckedContinuation<Void, Never>]) in
            s.closed = true
            let r = s.reader
            s.reader = nil
            let w = s.roomWaiters
            s.roomWaiters = []
            return (r, w)
        }
        reader?.resume(returning: nil)
        for w in waiters { w.resume() }
    }
}
