import Synchronization

/// Counts everything that happens on a test's connections, so waits can tell whether anything arrived.
final class Activity: Sendable {
    private let count = Atomic<Int>(0)

    var version: Int { count.load(ordering: .acquiring) }
    func signal() { count.add(1, ordering: .releasing) }
}
