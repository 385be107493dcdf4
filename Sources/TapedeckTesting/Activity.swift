import Synchronization

/// Counts everything that happens on a test's connections, so waits can tell whether anything
/// arrived, and keeps how many bytes of frames each connection has read (by its local port), so a
/// wait can tell whether everything an in-process server wrote has arrived.
final class Activity: Sendable {
    private struct Reading {
        var bytes = 0
        var ended = false
    }

    private let count = Atomic<Int>(0)
    private let reading = Mutex<[Int: Reading]>([:])

    var version: Int { count.load(ordering: .acquiring) }
    func signal() { count.add(1, ordering: .releasing) }

    /// A connection from local `port` has read `bytes` bytes of frames in all, and handled them.
    func read(_ bytes: Int, port: Int) { reading.withLock { $0[port, default: Reading()].bytes = bytes } }

    /// The connection from local `port` reads no more.
    func ended(port: Int) { reading.withLock { $0[port, default: Reading()].ended = true } }

    /// Whether every connection still reading has read at least what `written` says was written to it.
    func hasRead(all written: (Int) -> Int) -> Bool {
        reading.withLock { r in r.allSatisfy { $0.value.ended || $0.value.bytes >= written($0.key) } }
    }
}
