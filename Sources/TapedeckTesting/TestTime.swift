import Synchronization
import TapedeckCore
import TapedeckServer

/// How a test run lets time pass: by advancing the in-process simulator's manual clock, or by
/// really waiting when the server is somewhere else.
protocol TestTime: Sendable {
    /// Time since the test started, in the server's time.
    var now: Duration { get }
    /// Unix time the server sees, for minting tokens.
    var wallTime: Double { get }
    /// Lets some time pass, at most up to `deadline`: returns early when something arrived on a
    /// connection (so the caller re-checks its condition), or after the next step of time.
    func pass(until deadline: Duration, activity: Activity) async
    /// Gives in-flight messages a moment to land, without moving scenario time.
    func settle(activity: Activity) async
    /// After the client acted (connected, sent): gives the server's answer time to arrive before
    /// time moves on.
    func settleAfterAction(activity: Activity) async
    /// After the client sent a message: like ``settleAfterAction(activity:)``, and an in-process
    /// server is first waited for until it has handled the message.
    func settleAfterSend(activity: Activity) async
    /// Before a step fails (or an `expect_none` passes): waits until nothing has arrived for a
    /// while, so a reply still in flight is not missed.
    func settleBeforeVerdict(activity: Activity) async
}

/// Real time, for a server started elsewhere (`--target`).
struct RealTestTime: TestTime {
    let clock = RealClock()

    var now: Duration { clock.elapsed }
    var wallTime: Double { clock.wallTime }

    func pass(until deadline: Duration, activity: Activity) async {
        let version = activity.version
        let end = min(deadline, clock.elapsed + .milliseconds(200))
        while clock.elapsed < end && activity.version == version {
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    func settle(activity: Activity) async {
        await ManualTestTime.quiet(activity: activity, window: .milliseconds(20), cap: .milliseconds(200))
    }

    func settleAfterAction(activity: Activity) async {}

    func settleAfterSend(activity: Activity) async {}

    func settleBeforeVerdict(activity: Activity) async {
        await ManualTestTime.quiet(activity: activity, window: .milliseconds(20), cap: .milliseconds(200))
    }
}

/// Scenario time on a `ManualClock` shared with an in-process simulator: passing time jumps to
/// the next moment any server task sleeps until, so a minute of heartbeats takes milliseconds.
struct ManualTestTime: TestTime {
    let clock: ManualClock
    /// How many times longer than usual to wait for quiet after the client acted, before time moves:
    /// a golden run waits longer, so a reply on a loaded machine still lands before the next
    /// scheduled event and two runs record the same messages.
    var patience = 1
    /// The in-process server's count of handled client messages.
    var probe: SimulatorProbe?
    /// Messages the script has sent to the in-process server.
    private let sent = Counter()

    final class Counter: Sendable {
        private let value = Mutex(0)
        func next() -> Int { value.withLock { $0 += 1; return $0 } }
    }

    init(clock: ManualClock, probe: SimulatorProbe? = nil, patience: Int = 1) {
        self.clock = clock
        self.probe = probe
        self.patience = patience
    }
    /// How far time moves at once while no server task sleeps on the clock.
    static let idleStep = Duration.milliseconds(100)

    var now: Duration { clock.elapsed }
    var wallTime: Double { clock.wallTime }

    func pass(until deadline: Duration, activity: Activity) async {
        await delivered(activity: activity)
        let version = activity.version
        // While no server task sleeps on the clock, a server task may still poll it in real time
        // (a start grace): let a little real time pass with each step then.
        let idle = clock.nextDeadline == nil
        await Self.quiet(activity: activity, window: idle ? .milliseconds(2) : .microseconds(400), cap: .milliseconds(100))
        if activity.version != version { return }
        let now = clock.elapsed
        guard now < deadline else { return }
        // With no server task asleep on the clock, something may still be polling it (a start grace):
        // move in small steps rather than jumping to the deadline.
        let next = min(deadline, max(clock.nextDeadline ?? now + Self.idleStep, now + .milliseconds(1)))
        let sleepers = clock.sleeperCount
        clock.advance(by: next - now)
        // The woken server tasks do their work and sleep again; wait for that (bounded: a woken
        // task may also end), then for what they wrote to arrive.
        let start = ContinuousClock.now
        while clock.sleeperCount < sleepers && ContinuousClock.now - start < .milliseconds(200) {
            try? await Task.sleep(for: .microseconds(50))
        }
        await delivered(activity: activity)
    }

    /// Waits until the server has no delivery in flight and every test connection has read every
    /// byte the server wrote to it: then a reply or event the server sent is in the inbox, however
    /// slowly a loaded machine runs the client's reading task. Bounded, for a server that is stuck.
    func delivered(activity: Activity) async {
        guard let probe else { return }
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(10) {
            if probe.pendingDeliveries == 0 && activity.hasRead(all: probe.bytesWritten(toPeerPort:)) { return }
            try? await Task.sleep(for: .microseconds(100))
        }
    }

    func settle(activity: Activity) async {
        await delivered(activity: activity)
        await Self.quiet(activity: activity, window: .microseconds(400), cap: .milliseconds(100))
    }

    func settleAfterAction(activity: Activity) async {
        await delivered(activity: activity)
        await Self.quiet(activity: activity, window: .milliseconds(3) * patience, cap: .milliseconds(200) * patience)
    }

    func settleBeforeVerdict(activity: Activity) async {
        await delivered(activity: activity)
        await Self.quiet(activity: activity, window: .milliseconds(30), cap: .seconds(1))
    }

    func settleAfterSend(activity: Activity) async {
        if let probe {
            // The server's engine must have run on the message before scenario time moves on: a
            // subscription it makes then sees the events due next. Bounded, for a message the
            // server never reads (its connection is closing); generous, for a loaded machine.
            let count = sent.next()
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await probe.waitUntilHandled(atLeast: count) }
                group.addTask { try? await Task.sleep(for: .seconds(10)) }
                await group.next()
                group.cancelAll()
            }
        }
        await settleAfterAction(activity: activity)
    }

    /// Waits until no activity happened for `window` (real time), at most `cap`.
    static func quiet(activity: Activity, window: Duration, cap: Duration) async {
        let start = ContinuousClock.now
        var version = activity.version
        var since = ContinuousClock.now
        while ContinuousClock.now - start < cap {
            try? await Task.sleep(for: window / 4)
            let v = activity.version
            if v != version {
                version = v
                since = ContinuousClock.now
            } else if ContinuousClock.now - since >= window {
                return
            }
        }
    }
}
