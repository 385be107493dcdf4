import Synchronization
import TapedeckCore

/// The last events the timelines handed to the hub, for the dashboard (`GET /_tapedeck/events`).
///
/// Recorded once per event, never per connection: a batch of events costs one lock and one copy
/// of a few fields per event into a preallocated ring, so the fan-out pays nothing it would notice.
final class EventFeed: Sendable {
    /// One event as handed over.
    struct Entry: Sendable, Equatable {
        /// 1-based, increasing: the number of events recorded before it, plus one.
        var seq: Int
        /// When it was handed over, in milliseconds since 1970 (the simulation clock's wall time).
        var timeMillis: Int
        /// Its scenario time, in seconds.
        var scenarioTime: Double
        var stream: String
        var profile: String?
        /// The event's `type` field, when it has a string one.
        var type: String?
        /// The topic its profile gave it, if any.
        var topic: String?
        /// How many connections it was handed to: those of its profile on its timeline (each still
        /// applies its topic, subscriptions and filters).
        var connections: Int

        /// The entry as the API shows it.
        var value: Value {
            [
                "seq": .int(seq), "time_ms": .int(timeMillis), "scenario_time": .double((scenarioTime * 1000).rounded() / 1000),
                "stream": .string(stream), "profile": profile.map(Value.string) ?? .null, "type": type.map(Value.string) ?? .null,
                "topic": topic.map(Value.string) ?? .null, "connections": .int(connections),
            ]
        }
    }

    private struct Ring {
        var slots: [Entry?]
        /// Entries recorded so far; the newest has seq `count`.
        var count = 0
    }

    /// How many entries are kept.
    let capacity: Int
    private let ring: Mutex<Ring>

    /// A feed keeping the last `capacity` events (at least 1).
    init(capacity: Int = 500) {
        self.capacity = max(1, capacity)
        ring = Mutex(Ring(slots: Array(repeating: nil, count: max(1, capacity))))
    }

    /// Records events handed over together, under one lock.
    func record(_ events: some Collection<TimelineEventSummary>, connections: Int, timeMillis: Int) {
        guard !events.isEmpty else { return }
        ring.withLock { r in
            for e in events {
                r.count += 1
                r.slots[r.count % capacity] = Entry(
                    seq: r.count, timeMillis: timeMillis, scenarioTime: e.time, stream: e.stream, profile: e.profile, type: e.type,
                    topic: e.topic, connections: connections)
            }
        }
    }

    /// The entries with a seq above `since`, oldest first, at most `limit` (the newest ones), and
    /// the seq of the newest entry recorded so far.
    func entries(since: Int, limit: Int) -> (entries: [Entry], last: Int) {
        ring.withLock { r in
            let first = max(since + 1, r.count - capacity + 1, r.count - max(0, limit) + 1, 1)
            guard first <= r.count else { return ([], r.count) }
            var out: [Entry] = []
            out.reserveCapacity(r.count - first + 1)
            for seq in first...r.count {
                if let e = r.slots[seq % capacity] { out.append(e) }
            }
            return (out, r.count)
        }
    }
}

/// What the feed keeps of an event (see ``EventFeed``).
struct TimelineEventSummary: Sendable {
    var time: Double
    var stream: String
    var profile: String?
    var type: String?
    var topic: String?
}
