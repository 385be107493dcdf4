import DequeModule
import TapedeckCore

/// The faults on one connection's events (``MessageFault``), with what they hold back: an event
/// a reorder keeps for after the next one, and the delay line. It belongs to the connection's
/// event loop; the connection keeps it only while a fault is on or something is held, so that
/// without faults an event costs one optional check.
struct ConnectionFaults {
    /// A share of events and until when (simulation clock).
    struct Share {
        var share: Double
        var until: Duration
    }

    /// An event as the connection queues it: its frame and its subscription's tag.
    struct Held {
        var frame: OutboundFrame
        var tag: String
        var mayDrop: Bool
    }

    var drop: Share?
    var duplicate: Share?
    var reorder: Share?
    var corrupt: Share?
    /// Events a `count` corrupt still corrupts.
    var corruptLeft: Int?
    var delay: (milliseconds: Double, jitter: Double, until: Duration)?
    /// The event a reorder holds back until the next one has gone.
    var held: Held?
    /// Delayed events and when each leaves, in order (the times never decrease).
    var delayed: Deque<(due: Duration, event: Held)> = []
    /// Seeded by the connection id: the same connection rolls the same way.
    var random: SeededRandom

    init(seed: UInt64) {
        random = SeededRandom(seed: seed, stream: "faults")
    }

    /// Turns `fault` on until `until`, in place of the same kind's.
    mutating func add(_ fault: MessageFault, until: Duration) {
        switch fault {
        // A drop replaces a duplicate and the other way round, as they always have; the other kinds add up.
        case .drop(let s):
            drop = Share(share: s, until: until)
            duplicate = nil
        case .duplicate(let s):
            duplicate = Share(share: s, until: until)
            drop = nil
        case .reorder(let s): reorder = Share(share: s, until: until)
        case .corrupt(let s, let count):
            corrupt = Share(share: s, until: until)
            corruptLeft = count
        case .delay(let ms, let jitter): delay = (ms, jitter, until)
        }
    }

    /// Forgets the faults whose time is up (what they hold stays until it goes).
    mutating func expire(now: Duration) {
        if let d = drop, now >= d.until { drop = nil }
        if let d = duplicate, now >= d.until { duplicate = nil }
        if let r = reorder, now >= r.until { reorder = nil }
        if let c = corrupt, now >= c.until {
            corrupt = nil
            corruptLeft = nil
        }
        if let d = delay, now >= d.until { delay = nil }
    }

    /// Whether no fault is on and nothing is held: the connection can forget this.
    var isIdle: Bool {
        drop == nil && duplicate == nil && reorder == nil && corrupt == nil && delay == nil && held == nil && delayed.isEmpty
    }

    /// Whether a roll of the seeded random falls within `share`.
    mutating func roll(_ share: Share?) -> Bool {
        guard let share else { return false }
        return share.share >= 1 || random.unit() < share.share
    }

    /// Whether the next event is dropped.
    mutating func rollDrop() -> Bool { roll(drop) }

    /// Whether the next event is sent twice.
    mutating func rollDuplicate() -> Bool { roll(duplicate) }

    /// Whether the next event is held back for after the one that follows it.
    mutating func rollReorder() -> Bool { roll(reorder) }

    /// Whether the next event is corrupted (counting it against a `count`).
    mutating func rollCorrupt() -> Bool {
        guard roll(corrupt) else { return false }
        if let left = corruptLeft {
            corruptLeft = left - 1
            if left <= 1 {
                corrupt = nil
                corruptLeft = nil
            }
        }
        return true
    }

    /// When an event handed over `now` leaves: the delay ± jitter later, never before the event
    /// delayed before it (a delay does not reorder).
    mutating func due(now: Duration) -> Duration {
        var due = now
        if let d = delay {
            let jitter = d.jitter > 0 ? (random.unit() * 2 - 1) * d.jitter : 0
            let ms = Swift.max(0, d.milliseconds + jitter)
            due = now + .nanoseconds(Int64((ms * 1e6).rounded()))
        }
        if let last = delayed.last?.due, last > due { due = last }
        return due
    }
}
