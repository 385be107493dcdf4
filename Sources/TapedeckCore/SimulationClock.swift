import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where Tapedeck gets its time from: a real clock in production, a manual clock in tests.
///
/// `elapsed` is monotonic time since the clock was made; `wallTime` is the Unix time in seconds.
public protocol SimulationClock: Sendable {
    /// Monotonic time since the clock's origin.
    var elapsed: Duration { get }
    /// The current Unix time in seconds.
    var wallTime: Double { get }
    /// Suspends until `elapsed` reaches `deadline`; throws `CancellationError` when cancelled.
    func sleep(until deadline: Duration) async throws
}

extension SimulationClock {
    /// Suspends for `duration`.
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: elapsed + duration)
    }
}

/// The real clock: `ContinuousClock` for monotonic time, the system clock for wall time.
public struct RealClock: SimulationClock {
    private let origin: ContinuousClock.Instant

    public init() { origin = ContinuousClock.now }

    public var elapsed: Duration { ContinuousClock.now - origin }

    public var wallTime: Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    public func sleep(until deadline: Duration) async throws {
        try await ContinuousClock().sleep(until: origin + deadline, tolerance: nil)
    }
}

/// A clock that moves only when told to, so tests never sleep.
public final class ManualClock: SimulationClock {
    private struct Sleeper {
        var deadline: Duration
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var elapsed: Duration = .zero
        var sleepers: [UInt64: Sleeper] = [:]
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())
    private let wallOrigin: Double

    /// A manual clock whose wall time starts at `wallOrigin` (Unix seconds).
    public init(wallOrigin: Double = 1_737_109_800) {
        self.wallOrigin = wallOrigin
    }

    public var elapsed: Duration { state.withLock { $0.elapsed } }

    public var wallTime: Double {
        let e = elapsed.components
        return wallOrigin + Double(e.seconds) + Double(e.attoseconds) / 1e18
    }

    /// How many tasks are sleeping on this clock.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    public func sleep(until deadline: Duration) async throws {
        let id = state.withLock { s -> UInt64 in
            s.nextID += 1
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { s -> Bool in
                    if deadline <= s.elapsed || Task.isCancelled { return true }
                    s.sleepers[id] = Sleeper(deadline: deadline, continuation: c)
                    return false
                }
                if resumeNow {
                    if Task.isCancelled { c.resume(throwing: CancellationError()) } else { c.resume() }
                }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// The earliest deadline a task sleeps until, if any task sleeps.
    public var nextDeadline: Duration? { state.withLock { $0.sleepers.values.map(\.deadline).min() } }

    /// Moves time forward and wakes every sleeper whose deadline has passed.
    public func advance(by duration: Duration) {
        let due = state.withLock { s -> [Sleeper] in
            s.elapsed += duration
            let now = s.elapsed
            let due = s.sleepers.filter { $0.value.deadline <= now }
            for id in due.keys { s.sleepers[id] = nil }
            return due.values.sorted { $0.deadline < $1.deadline }
        }
        for s in due { s.continuation.resume() }
    }
}
