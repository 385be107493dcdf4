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
    /// Suspends until `elapsed` reaches `deadline` or `wake` is woken, whichever comes first;
    /// throws `CancellationError` when cancelled. A clock that can, registers the sleep before it
    /// suspends (the manual clock), so that a test sees it among its sleepers at once.
    func sleep(until deadline: Duration, wake: ClockWake) async throws
}

extension SimulationClock {
    /// Suspends for `duration`.
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: elapsed + duration)
    }

    /// Races ``sleep(until:)`` against `wake`.
    public func sleep(until deadline: Duration, wake: ClockWake) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.sleep(until: deadline) }
            group.addTask { await wake.wait() }
            _ = try await group.next()
            group.cancelAll()
        }
    }
}

/// Ends a ``SimulationClock/sleep(until:wake:)`` early, from another task: once woken, it stays woken.
public final class ClockWake: Sendable {
    private struct State {
        var woken = false
        var actions: [UInt64: @Sendable () -> Void] = [:]
        var next: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Whether ``wake()`` was called.
    public var isWoken: Bool { state.withLock { $0.woken } }

    /// Ends the sleeps waiting on it (and any later one at once).
    public func wake() {
        let actions = state.withLock { s -> [@Sendable () -> Void] in
            s.woken = true
            defer { s.actions = [:] }
            return Array(s.actions.values)
        }
        for a in actions { a() }
    }

    /// Runs `action` on wake (now if already woken); returns a key for ``cancel(_:)``.
    func onWake(_ action: @escaping @Sendable () -> Void) -> UInt64? {
        let key = state.withLock { s -> UInt64? in
            guard !s.woken else { return nil }
            s.next += 1
            s.actions[s.next] = action
            return s.next
        }
        if key == nil { action() }
        return key
    }

    func cancel(_ key: UInt64) {
        _ = state.withLock { $0.actions.removeValue(forKey: key) }
    }

    /// Returns once woken (or cancelled).
    func wait() async {
        let once = ContinuationOnce()
        let key = KeyBox()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                once.set(c)
                key.set(onWake { once.resume() })
                if Task.isCancelled { once.resume() }
            }
        } onCancel: {
            once.resume()
        }
        if let k = key.value { cancel(k) }
    }
}

/// A continuation resumed at most once, from whichever side comes first.
final class ContinuationOnce: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<Void, Never>?, resumed: Bool)>((nil, false))

    func set(_ c: CheckedContinuation<Void, Never>) {
        let now = state.withLock { s -> Bool in
            if s.resumed { return true }
            s.continuation = c
            return false
        }
        if now { c.resume() }
    }

    func resume() {
        state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.resumed = true
            defer { s.continuation = nil }
            return s.continuation
        }?.resume()
    }
}

/// A wake registration's key, set once it is known.
final class KeyBox: Sendable {
    private let state = Mutex<UInt64?>(nil)
    func set(_ key: UInt64?) { state.withLock { $0 = key } }
    var value: UInt64? { state.withLock { $0 } }

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

    /// Like ``sleep(until:)``, registered among the sleepers before it suspends, and ended early
    /// by `wake`.
    public func sleep(until deadline: Duration, wake: ClockWake) async throws {
        let id = state.withLock { s -> UInt64 in
            s.nextID += 1
            return s.nextID
        }
        let key = KeyBox()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { s -> Bool in
                    if deadline <= s.elapsed || Task.isCancelled { return true }
                    s.sleepers[id] = Sleeper(deadline: deadline, continuation: c)
                    return false
                }
                if resumeNow {
                    if Task.isCancelled { c.resume(throwing: CancellationError()) } else { c.resume() }
                    return
                }
                key.set(wake.onWake { [self] in
                    self.state.withLock { $0.sleepers.removeValue(forKey: id) }?.continuation.resume()
                })
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
        if let k = key.value { wake.cancel(k) }
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
