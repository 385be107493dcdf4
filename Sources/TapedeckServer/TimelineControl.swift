import Synchronization
import TapedeckCore

/// Steers the timelines of a running server: pause, resume and speed, from the control API.
///
/// Every timeline being played (the shared one, or one per connection) registers a *play*. A play
/// maps scenario time to the simulation clock piecewise: from its anchor (a moment of the clock and
/// the scenario time then) scenario time runs at the current speed, or stands still while paused.
/// A change re-anchors every play at the moment of the change, so no event is skipped or replayed,
/// and wakes the plays waiting for their next event, which then compute their next deadline anew.
/// Until the first change a play's deadlines are exactly those of a fixed speed from its start.
///
/// Deadlines come from the ``SimulationClock``: on a `ManualClock` a test pauses, moves time on,
/// resumes, and sees exactly the events due, without sleeping.
final class TimelineControl: Sendable {
    typealias Speed = SimulatorConfiguration.Speed

    private struct Play {
        var anchorElapsed: Duration
        var anchorTime: Double
        /// The scenario time of the last event handed over (at `max`, scenario time itself).
        var lastTime: Double
        var shared: Bool
    }

    private struct State {
        var paused = false
        var speed: Speed
        var generation = 0
        var plays: [Int: Play] = [:]
        var nextPlay = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        /// The plays asleep until their next event, woken by a change.
        var wakes: [Int: ClockWake] = [:]
        var nextWaiter = 0
        var eventsSent = 0
        /// How late the last hand-over of the scheduler was, in real seconds.
        var lag: Double = 0
        /// The largest lag since ``takeMaxLag()`` last read it.
        var maxLag: Double = 0
    }

    /// What a play should do before its next event.
    enum Wait: Sendable {
        /// The event is due now.
        case due
        /// Sleep until this deadline, unless the timeline changes first.
        case until(Duration, generation: Int)
        /// Paused: wait for a change.
        case paused(generation: Int)
        /// `max`: no waiting between events.
        case max
    }

    /// The timeline's state, as the control API reports it.
    struct Status: Sendable {
        var paused: Bool
        var speed: Speed
        /// Scenario seconds of the shared timeline (`nil` before it starts, or with per-connection timelines).
        var scenarioTime: Double?
        var eventsSent: Int
        var lag: Double
        var timelines: Int
    }

    let clock: any SimulationClock
    let metrics: ServerMetrics
    private let state: Mutex<State>

    init(speed: Speed, clock: any SimulationClock, metrics: ServerMetrics) {
        self.clock = clock
        self.metrics = metrics
        self.state = Mutex(State(speed: speed))
    }

    /// Starts a play at the clock's current moment and scenario time 0; returns its id.
    func register(shared: Bool) -> Int {
        let now = clock.elapsed
        return state.withLock { s in
            s.nextPlay += 1
            s.plays[s.nextPlay] = Play(anchorElapsed: now, anchorTime: 0, lastTime: 0, shared: shared)
            return s.nextPlay
        }
    }

    func unregister(_ play: Int) {
        _ = state.withLock { $0.plays.removeValue(forKey: play) }
    }

    var speed: Speed { state.withLock { $0.speed } }
    var isPaused: Bool { state.withLock { $0.paused } }

    /// How a play waits for an event at scenario time `time`.
    func wait(for time: Double, play: Int) -> Wait {
        let now = clock.elapsed
        return state.withLock { s in
            if s.paused { return .paused(generation: s.generation) }
            guard case .factor(let f) = s.speed else { return .max }
            guard let p = s.plays[play] else { return .due }
            let deadline = Self.deadline(time, play: p, factor: f)
            return deadline <= now ? .due : .until(deadline, generation: s.generation)
        }
    }

    /// When the event at `time` is due for `play` at the current speed (`nil` while paused or at max).
    func deadline(for time: Double, play: Int) -> Duration? {
        state.withLock { s in
            guard !s.paused, case .factor(let f) = s.speed, let p = s.plays[play] else { return nil }
            return Self.deadline(time, play: p, factor: f)
        }
    }

    private static func deadline(_ time: Double, play p: Play, factor f: Double) -> Duration {
        p.anchorElapsed + .nanoseconds(Int64(((time - p.anchorTime) / f * 1e9).rounded()))
    }

    /// Returns once the timeline changes after `generation` (pause, resume, speed), or on cancellation.
    func waitForChange(after generation: Int) async {
        let id = state.withLock { s in
            s.nextWaiter += 1
            return s.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.generation != generation || Task.isCancelled { return true }
                    s.waiters[id] = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// Waits until the event at scenario `time` is due for `play`; returns at once at `max` speed.
    /// Throws `CancellationError` when cancelled.
    func waitUntilDue(_ time: Double, play: Int) async throws {
        while true {
            try Task.checkCancellation()
            switch wait(for: time, play: play) {
            case .due, .max: return
            case .paused(let generation):
                await waitForChange(after: generation)
            case .until(let deadline, let generation):
                // Whichever comes first: the deadline, or a change (which recomputes it).
                let wake = ClockWake()
                let id = state.withLock { s -> Int? in
                    guard s.generation == generation else { return nil }
                    s.nextWaiter += 1
                    s.wakes[s.nextWaiter] = wake
                    return s.nextWaiter
                }
                guard let id else { continue }
                defer { _ = state.withLock { $0.wakes.removeValue(forKey: id) } }
                try await clock.sleep(until: deadline, wake: wake)
            }
        }
    }

    /// While paused, waits for a change; returns at once otherwise.
    func waitWhilePaused() async {
        while true {
            let g: Int? = state.withLock { $0.paused ? $0.generation : nil }
            guard let g, !Task.isCancelled else { return }
            await waitForChange(after: g)
        }
    }

    /// A play handed `count` events over, the last at scenario `time`, `lag` real seconds late.
    func handedOver(play: Int, count: Int, lastTime: Double, lag: Double) {
        state.withLock { s in
            s.plays[play]?.lastTime = lastTime
            s.eventsSent += count
            s.lag = lag
            s.maxLag = Swift.max(s.maxLag, lag)
        }
        metrics.scheduled(count: count, lag: lag)
    }

    /// The largest lag of a hand-over since the last call, in real seconds; resets it.
    func takeMaxLag() -> Double {
        state.withLock { s in
            defer { s.maxLag = 0 }
            return s.maxLag
        }
    }

    /// Pauses every timeline; `false` when already paused.
    @discardableResult
    func pause() -> Bool { change { s in
        guard !s.paused else { return false }
        s.paused = true
        return true
    } }

    /// Resumes every timeline; `false` when not paused.
    @discardableResult
    func resume() -> Bool { change { s in
        guard s.paused else { return false }
        s.paused = false
        return true
    } }

    /// Sets the speed of every timeline from now on.
    func setSpeed(_ speed: Speed) {
        _ = change { s in
            s.speed = speed
            return true
        }
    }

    /// Re-anchors every play at this moment, applies `body`, and wakes the waiting plays.
    private func change(_ body: (inout State) -> Bool) -> Bool {
        let now = clock.elapsed
        let (changed, waiters, wakes) = state.withLock { s -> (Bool, [CheckedContinuation<Void, Never>], [ClockWake]) in
            for (id, p) in s.plays {
                var q = p
                q.anchorTime = Self.time(of: p, state: s, now: now)
                q.anchorElapsed = now
                s.plays[id] = q
            }
            guard body(&s) else { return (false, [], []) }
            s.generation += 1
            let w = Array(s.waiters.values)
            s.waiters = [:]
            let k = Array(s.wakes.values)
            s.wakes = [:]
            return (true, w, k)
        }
        for w in waiters { w.resume() }
        for k in wakes { k.wake() }
        return changed
    }

    private static func time(of p: Play, state s: State, now: Duration) -> Double {
        if s.paused { return p.anchorTime }
        switch s.speed {
        case .max: return p.lastTime
        case .factor(let f): return p.anchorTime + seconds(now - p.anchorElapsed) * f
        }
    }

    /// The state of the timelines now.
    var status: Status {
        let now = clock.elapsed
        return state.withLock { s in
            let shared = s.plays.values.first { $0.shared }
            return Status(
                paused: s.paused, speed: s.speed, scenarioTime: shared.map { Self.time(of: $0, state: s, now: now) }, eventsSent: s.eventsSent,
                lag: s.lag, timelines: s.plays.count)
        }
    }
}
