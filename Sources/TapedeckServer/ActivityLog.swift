import Synchronization
import DequeModule
import TapedeckCore

/// The last published events of one profile, for its `activity` REST endpoint. Bounded.
final class ActivityLog: Sendable {
    struct Item: Sendable {
        var timeMillis: Int
        var event: Value
        var message: Value

        var value: Value { ["time_ms": .int(timeMillis), "event": event, "message": message] }
    }

    let capacity: Int
    private let items = Mutex<Deque<Item>>([])

    init(capacity: Int) { self.capacity = max(1, capacity) }

    func append(_ item: Item) {
        items.withLock { d in
            if d.count >= capacity { d.removeFirst() }
            d.append(item)
        }
    }

    var snapshot: [Item] { items.withLock { Array($0) } }
}
