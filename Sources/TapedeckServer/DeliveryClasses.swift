import Synchronization
import TapedeckProtocol

/// Numbers the distinct ``ConnectionEngine/DeliveryKey``s of the server's connections: the
/// connections with one number accept the same events, so the hub decides for one of them and
/// applies the decision to all (see ``DeliveryMemo``).
///
/// A connection asks for its number only when its key changes (it subscribes, its state changes),
/// never per event. Numbers are never reused: past `capacity` keys the table starts over with new
/// numbers, so a connection holding an old number still shares with no key but its own.
final class DeliveryClasses: Sendable {
    private struct State {
        var ids: [ConnectionEngine.DeliveryKey: Int] = [:]
        var next = 0
    }

    private let state = Mutex(State())
    private let capacity: Int

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    /// The number of `key`.
    func id(for key: ConnectionEngine.DeliveryKey) -> Int {
        state.withLock { s in
            if let id = s.ids[key] { return id }
            if s.ids.count >= capacity { s.ids.removeAll(keepingCapacity: true) }
            s.next += 1
            s.ids[key] = s.next
            return s.next
        }
    }
}

/// The delivery decisions made for one batch of events on one event loop, by delivery class
/// (``DeliveryClasses``): each decision is an event's accepting subscription key, or `nil` when
/// the event does not reach that class's connections. Confined to the loop that delivers the batch.
final class DeliveryMemo {
    private var decisions: [Int: [String?]] = [:]

    /// The decisions of class `id`, made by `decide` the first time it is asked for.
    func decisions(for id: Int, decide: () -> [String?]) -> [String?] {
        if let d = decisions[id] { return d }
        let d = decide()
        decisions[id] = d
        return d
    }
}
