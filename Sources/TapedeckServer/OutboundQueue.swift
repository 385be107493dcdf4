import DequeModule
import NIOCore

/// The bounded queue of one connection: what waits while its socket cannot take more.
///
/// It belongs to the connection's event loop (not thread-safe): frames go straight to the socket
/// while the channel is writable, and wait here only while it is not.
///
/// Events beyond `capacity` drop the oldest queued event (and count it); replies, pongs and
/// closes are never dropped, but they are bounded too: beyond `controlCapacity` frames or
/// `controlBytes` bytes ``pushControl(_:)`` refuses the frame, and the connection closes (a client
/// that sends requests or pings and never reads cannot grow the server's memory). A producer of
/// events that must not drop (the scheduler at `--speed max`) waits for ``hasRoom(for:)`` first.
///
/// With `tagCapacity` (a profile's `backpressure:`), events are also bounded per tag (the
/// subscription that accepted them): beyond it the oldest event of that tag is dropped, and before
/// the next frame is written the queue yields one warning per tag from `warning(tag, dropped)`,
/// so a flood of drops costs one counter per subscription, not one message each.
struct OutboundQueue {
    typealias Warning = @Sendable (_ tag: String, _ dropped: Int) -> OutboundItem?

    private struct Entry {
        var frame: OutboundFrame
        var droppable: Bool
        var tag: String?
    }

    let capacity: Int
    let tagCapacity: Int?
    let warning: Warning?
    let controlCapacity: Int
    let controlBytes: Int
    private var items: Deque<Entry> = []
    private var droppableCount = 0
    /// Replies, pongs and closes queued, and their bytes.
    private(set) var controlCount = 0
    private(set) var controlByteCount = 0
    private var perTag: [String: Int] = [:]
    private var pendingDrops: [String: Int] = [:]
    /// Total events dropped so far.
    private(set) var droppedCount = 0

    init(capacity: Int, tagCapacity: Int? = nil, warning: Warning? = nil, controlCapacity: Int = .max, controlBytes: Int = .max) {
        self.capacity = max(1, capacity)
        self.tagCapacity = tagCapacity.map { max(1, $0) }
        self.warning = warning
        self.controlCapacity = max(1, controlCapacity)
        self.controlBytes = max(1, controlBytes)
    }

    /// Frames waiting (events, replies, pongs, a close).
    var depth: Int { items.count }

    /// Whether nothing waits (no frame, no drop warning).
    var isEmpty: Bool { items.isEmpty && pendingDrops.isEmpty }

    /// Queues an event; returns how many events were dropped to make room (0 or 1).
    ///
    /// With `mayDrop` false nothing is dropped: the producer waited for ``hasRoom(for:)`` and may
    /// go over the capacity by the events it sends at once.
    @discardableResult
    mutating func pushEvent(_ frame: OutboundFrame, tag: String? = nil, mayDrop: Bool = true) -> Int {
        var dropped = 0
        if !mayDrop {
            // Nothing to make room for.
        } else if let tag, let tagCapacity, perTag[tag, default: 0] >= tagCapacity,
            let i = items.firstIndex(where: { $0.droppable && $0.tag == tag })
        {
            drop(at: i)
            dropped = 1
        } else if droppableCount >= capacity, let i = items.firstIndex(where: { $0.droppable }) {
            drop(at: i)
            dropped = 1
        }
        items.append(Entry(frame: frame, droppable: true, tag: tag))
        droppableCount += 1
        if let tag { perTag[tag, default: 0] += 1 }
        return dropped
    }

    /// Queues a reply, a pong or a close, never dropped; returns false, queuing nothing, when it
    /// would go over `controlCapacity` frames or `controlBytes` bytes (the first frame is always
    /// taken, however large). With `bounded` false (the connection's close) it is always taken.
    @discardableResult
    mutating func pushControl(_ frame: OutboundFrame, bounded: Bool = true) -> Bool {
        let size = frame.wire.readableBytes
        if bounded, controlCount > 0, controlCount >= controlCapacity || controlByteCount + size > controlBytes { return false }
        items.append(Entry(frame: frame, droppable: false, tag: nil))
        controlCount += 1
        controlByteCount += size
        return true
    }

    /// Removes a queued event; with a warning template, counts it for its tag's next warning.
    private mutating func drop(at i: Int) {
        let removed = items.remove(at: i)
        droppableCount -= 1
        droppedCount += 1
        if let tag = removed.tag {
            perTag[tag, default: 1] -= 1
            if warning != nil { pendingDrops[tag, default: 0] += 1 }
        }
    }

    /// The next frame to write: a pending drop warning first, then the queue.
    mutating func pop() -> OutboundFrame? {
        while let (tag, n) = pendingDrops.min(by: { $0.key < $1.key }) {
            pendingDrops[tag] = nil
            if let w = warning?(tag, n) { return OutboundFrame(w) }
        }
        guard let first = items.popFirst() else { return nil }
        if first.droppable {
            droppableCount -= 1
            if let tag = first.tag {
                perTag[tag, default: 1] -= 1
                if perTag[tag] == 0 { perTag[tag] = nil }
            }
        } else {
            controlCount -= 1
            controlByteCount -= first.frame.wire.readableBytes
        }
        return first.frame
    }

    /// Whether `count` more events of any tag fit without dropping.
    func hasRoom(for count: Int) -> Bool {
        if droppableCount + count > capacity { return false }
        if let tagCapacity, let fullest = perTag.values.max(), fullest + count > tagCapacity { return false }
        return true
    }

    /// Forgets everything queued (the connection is closing).
    mutating func removeAll() {
        items.removeAll()
        pendingDrops.removeAll()
        perTag.removeAll()
        droppableCount = 0
        controlCount = 0
        controlByteCount = 0
    }
}
