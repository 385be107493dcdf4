import Synchronization
import TapedeckCore

/// Steers the timelines of a running server: pause, resume, speed and seek, from the control API.
///
/// Every timeline being played (the shared one, or one per connection) registers a *play*. A play
/// maps scenario time to the simulation clock piecewise: from its anchor (a moment of the clock and
/// the scenario time then) scenario time runs at the current speed, or stands still while paused.
/// A change re-anchors every play at the moment of the change, so no event is skipped or replayed,
/// and wakes the plays waiting for their next event, which then compute their next deadline anew.
/// Until the first change a play's deadlines are exactly those of a fixed speed from its start.
///
/// A seek moves the shared play to another scenario time and bumps its *revision*, as does a
/// change of the scenarios it plays (``revise()``): the scheduler, waiting for its next event,
/// wakes and rebuilds what it plays before it waits again.
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
        /// Bumped by a seek or a change of the scenarios played (shared play only).
        var revision = 0
        /// A seek the scheduler has not carried out yet: the target scenario time.
        var seek: Double?
        /// How many seeks so far, and the target of the last one (for the scheduled faults).
        var seeks = 0
        var lastSeek = 0.0
    }

    private struct State {
        var paused = false
        var speed: Speed
        var generation = 0
        var plays: [Int: Play] = [:]
        /// A seek made before the shared timeline started: where it will start.
        var pendingSeek: Double?
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
        /// The play was revised (a seek, a change of scenarios) since the caller looked.
        case revised
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
    /// A shared play starts where a seek made before it put it.
    func register(shared: Bool) -> Int {
        let now = clock.elapsed
        return state.withLock { s in
            s.nextPlay += 1
            let start = shared ? s.pendingSeek : nil
            if shared { s.pendingSeek = nil }
            var play = Play(anchorElapsed: now, anchorTime: start ?? 0, lastTime: start ?? 0, shared: shared)
            if let start {
                play.seek = start
                play.seeks = 1
                play.lastSeek = start
            }
            s.plays[s.nextPlay] = play
            return s.nextPlay
        }
    }

    func unregister(_ play: Int) {
        _ = state.withLock { $0.plays.removeValue(forKey: play) }
    }

    var speed: Speed { state.withLock { $0.speed } }
    var isPaused: Bool { state.withLock { $0.paused } }

    /// How a play waits for an event at scenario time `time`.
    /// With `revision`, answers ``Wait/revised`` once the play's revision is another.
    func wait(for time: Double, play: Int, revision: Int? = nil) -> Wait {
        let now = clock.elapsed
        return state.withLock { s in
            if let revision, s.plays[play]?.revision != revision { return .revised }
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
        _ = try await waitUntilDue(time, play: play, revision: nil)
    }

    /// Waits until the event at scenario `time` is due for `play`, or until the play is revised
    /// after `revision` (then returns `false`). Throws `CancellationError` when cancelled.
    func waitUntilDue(_ time: Double, play: Int, revision: Int?) async throws -> Bool {
        while true {
            try Task.checkCancellation()
            switch wait(for: time, play: play, revision: revision) {
            case .due, .max: return true
            case .revised: return false
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

    /// Waits until `play` is revised after `revision` (a seek, a change of scenarios), or cancellation.
    func waitForRevision(of play: Int, after revision: Int) async {
        while !Task.isCancelled {
            let g: Int? = state.withLock { s in s.plays[play]?.revision == revision ? s.generation : nil }
            guard let g else { return }
            await waitForChange(after: g)
        }
    }

    /// The revision of `play`: bumped by each seek and change of scenarios.
    func revision(of play: Int) -> Int { state.withLock { $0.plays[play]?.revision ?? 0 } }

    /// The target of a seek not carried out yet, if any; forgets it.
    func takeSeek(of play: Int) -> Double? {
        state.withLock { s in
            defer { s.plays[play]?.seek = nil }
            return s.plays[play]?.seek
        }
    }

    /// How many seeks `play` had, and the target of the last.
    func seeks(of play: Int) -> (count: Int, target: Double) {
        state.withLock { s in (s.plays[play]?.seeks ?? 0, s.plays[play]?.lastSeek ?? 0) }
    }

    /// The scenario time of `play` now.
    func scenarioTime(of play: Int) -> Double? {
        let now = clock.elapsed
        return state.withLock { s in s.plays[play].map { Self.time(of: $0, state: s, now: now) } }
    }

    /// Moves the shared timeline to scenario `time` (seconds). Returns `false` when it has not
    /// started yet: it will start there.
    @discardableResult
    func seek(to time: Double) -> Bool {
        var started = false
        _ = change { s in
            for (id, p) in s.plays where p.shared {
                var q = p
                q.anchorTime = time
                q.lastTime = time
                q.seek = time
                q.seeks += 1
                q.lastSeek = time
                q.revision += 1
                s.plays[id] = q
                started = true
            }
            if !started { s.pendingSeek = time }
            return true
        }
        return started
    }

    /// The scenarios the shared timeline plays changed: wakes it to take them in.
    func revise() {
        _ = change { s in
            for (id, p) in s.plays where p.shared { s.plays[id]?.revision = p.revision + 1 }
            return true
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
                paused: s.paused, speed: s.speed, scenarioTime: shared.map { Self.time(of: $0, state: s, now: now) } ?? s.pendingSeek,
                eventsSent: s.eventsSent,
                lag: s.lag, timelines: s.plays.count)
        }
    }
}
