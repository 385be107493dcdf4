import Synchronization
import DequeModule

/// Sliding-window counters shared by connections: per user, per tenant, or any other key a profile
/// names in `limits.shared`.
public final class SharedRateLimiter: Sendable {
    private let windows = Mutex<[String: Deque<Double>]>([:])

    public init() {}

    /// Counts a message at monotonic time `now` (seconds) under every key, if each key has had
    /// fewer than its `max` messages in the last `per` seconds; otherwise counts nothing and
    /// returns the index of the first limit that refused.
    public func admit(_ limits: [(key: String, max: Int, per: Double)], now: Double) -> Int? {
        windows.withLock { w in
            for (i, l) in limits.enumerated() {
                var times = w[l.key] ?? []
                while let first = times.first, first <= now - l.per { times.removeFirst() }
                w[l.key] = times
                if times.count >= l.max { return i }
            }
            for l in limits { w[l.key, default: []].append(now) }
            return nil
        }
    }
}
