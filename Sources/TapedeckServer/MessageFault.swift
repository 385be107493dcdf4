/// A fault on the events bound for a connection, for a while (see ``ConnectionFaults``).
enum MessageFault: Sendable, Equatable {
    /// Drops `share` (0 to 1) of the events.
    case drop(share: Double)
    /// Sends `share` of the events twice.
    case duplicate(share: Double)
    /// Holds `share` of the events back and sends each after the next event.
    case reorder(share: Double)
    /// Cuts `share` of the events in the middle (text) or inside a field (binary); with `count`,
    /// only that many events are corrupted.
    case corrupt(share: Double, count: Int?)
    /// Each event leaves `milliseconds` ± `jitter` (uniform) later, in order.
    case delay(milliseconds: Double, jitter: Double)
}
