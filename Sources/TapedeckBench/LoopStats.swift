import Histogram

/// Latencies and connect times, in nanoseconds.
typealias HistogramNanoseconds = Histogram<UInt64>

/// What the connections of one event loop have received. Only touched on that loop (handlers update
/// it as frames arrive; the runner reads it through `EventLoop.submit`), so it needs no lock and is
/// `@unchecked Sendable` only to be handed to its loop.
final class LoopStats: @unchecked Sendable {
    /// Messages received since the start (a message is a final data frame).
    var messages = 0
    /// Payload bytes of those messages.
    var bytes = 0
    /// One-way latencies in nanoseconds, since the measured window began.
    var latency = LoopStats.makeLatencyHistogram()
    /// Messages of the window with no readable timestamp at the latency field.
    var latencyMissing = 0
    /// Messages of the window whose timestamp was later than their arrival (another clock?).
    var latencyNegative = 0
    /// Connections that the server closed (or that failed) after their upgrade.
    var closedByServer = 0

    /// 1 µs to 10 min, three significant digits.
    static func makeLatencyHistogram() -> Histogram<UInt64> {
        Histogram<UInt64>(lowestDiscernibleValue: 1_000, highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three)
    }

    /// Forgets the latencies recorded so far: the measured window starts now.
    func startWindow() {
        latency.reset()
        latencyMissing = 0
        latencyNegative = 0
    }

    /// A copy to read from another thread.
    func snapshot(withLatency: Bool) -> Snapshot {
        Snapshot(
            messages: messages, bytes: bytes, latency: withLatency ? latency : nil, latencyMissing: latencyMissing,
            latencyNegative: latencyNegative, closedByServer: closedByServer)
    }

    /// A copy of the counters at one moment.
    struct Snapshot: Sendable {
        var messages = 0
        var bytes = 0
        var latency: Histogram<UInt64>?
        var latencyMissing = 0
        var latencyNegative = 0
        var closedByServer = 0

        /// The sum of several loops' snapshots.
        static func merged(_ parts: [Snapshot]) -> Snapshot {
            var total = Snapshot()
            for p in parts {
                total.messages += p.messages
                total.bytes += p.bytes
                total.latencyMissing += p.latencyMissing
                total.latencyNegative += p.latencyNegative
                total.closedByServer += p.closedByServer
                if let h = p.latency {
                    if total.latency == nil { total.latency = h } else { total.latency!.add(h) }
                }
            }
            return total
        }
    }
}
