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
///
/// With `tagCapacity` (a profile's `backpressure:`), events are also bounded per tag (the
/// subscription that accepted them): beyond it the oldest event of that tag is dropped, and before
/// the next frame is written the queue yields one warning per tag from `warning(tag, dropped)`,
/// so a flood of drops costs one counter per subscription, not one message each.
final class OutboundQueue: Sendable {
    typealias Warning = @Sendable (_ tag: String, _ dropped: Int) -> OutboundItem?

    private struct State {
        var items: Deque<(item: OutboundItem, droppable: Bool, tag: String?)> = []
        var droppableCount = 0
        var dropped = 0
        var perTag: [String: Int] = [:]
        var pendingDrops: [String: Int] = [:]
        var closed = false
        var reader: CheckedContinuation<OutboundItem?, Never>?
        var roomWaiters: [CheckedContinuation<Void, Never>] = []
    }

    let capacity: Int
    let tagCapacity: Int?
    let warning: Warning?
    private let state = Mutex(State())

    init(capacity: Int, tagCapacity: Int? = nil, warning: Warning? = nil) {
        self.capacity = max(1, capacity)
        self.tagCapacity = tagCapacity.map { max(1, $0) }
        self.warning = warning
    }

    /// Queues an event; returns how many events were dropped to make room (0 or 1).
    @discardableResult
    func pushEvent(_ item: OutboundItem, tag: String? = nil) -> Int {
        push(item, droppable: true, tag: tag)
    }

    /// Queues a reply or a close, never dropped.
    func pushControl(_ item: OutboundItem) {
        push(item, droppable: false, tag: nil)
    }

    @discardableResult
    private func push(_ item: OutboundItem, droppable: Bool, tag: String?) -> Int {
        let (reader, dropped) = state.withLock { s -> (CheckedContinuation<OutboundItem?, Never>?, Int) in
            guard !s.closed else { return (nil, 0) }
            if let r = s.reader, s.pendingDrops.isEmpty {
                s.reader = nil
                return (r, 0)
            }
            var dropped = 0
            if droppable, let tag, let tagCapacity, s.perTag[tag, default: 0] >= tagCapacity,
                let i = s.items.firstIndex(where: { $0.droppable && $0.tag == tag })
            {
                Self.drop(at: i, in: &s, warn: warning != nil)
                dropped = 1
            } else if droppable && s.droppableCount >= capacity, let i = s.items.firstIndex(where: { $0.droppable }) {
                Self.drop(at: i, in: &s, warn: warning != nil)
                dropped = 1
            }
            s.items.append((item, droppable, tag))
            if droppable {
                s.droppableCount += 1
                if let tag { s.perTag[tag, default: 0] += 1 }
            }
            return (nil, dropped)
        }
        reader?.resume(returning: item)
        return dropped
    }

    /// Removes a queued event; with `warn`, counts it for its tag's next warning.
    private static func drop(at i: Int, in s: inout State, warn: Bool) {
        let removed = s.items.remove(at: i)
        s.droppableCount -= 1
        s.dropped += 1
        if let tag = removed.tag {
            s.perTag[tag, default: 1] -= 1
            if warn { s.pendingDrops[tag, default: 0] += 1 }
        }
    }

    /// Takes the next item under the lock: a pending drop warning first, then the queue.
    private func take(_ s: inout State) -> OutboundItem? {
        if warning != nil, let (tag, n) = s.pendingDrops.min(by: { $0.key < $1.key }) {
            s.pendingDrops[tag] = nil
            if let w = warning?(tag, n) { return w }
        }
        guard let first = s.items.popFirst() else { return nil }
        if first.droppable {
            s.droppableCount -= 1
            if let tag = first.tag {
                s.perTag[tag, default: 1] -= 1
                if s.perTag[tag] == 0 { s.perTag[tag] = nil }
            }
        }
        return first.item
    }

    /// Total events dropped so far.
    var droppedCount: Int { state.withLock { $0.dropped } }

    /// Waits until the queue has room for another event of `tag` (or is closed).
    func waitForRoom(tag: String? = nil) async {
        let tagCapacity = self.tagCapacity
        let capacity = self.capacity
        func room(_ s: State) -> Bool {
            if s.closed { return true }
            if let tag, let tagCapacity, s.perTag[tag, default: 0] >= tagCapacity { return false }
            return s.droppableCount < capacity
        }
        let hasRoom = state.withLock { room($0) }
        if hasRoom { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                if room(s) { return true }
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
                    if let item = take(&s) {
                        let w = s.roomWaiters
                        s.roomWaiters = []
                        return (.some(item), w)
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
