import Synchronization
import Testing
import TapedeckCore
import TapedeckScenario
@testable import TapedeckServer

/// When the timeline starts: one rule for every profile, on the manual clock (no sleeping).
@Suite("Timeline start")
struct TimelineStartTests {
    /// Starts waiting; `started` turns true when `wait` returns.
    final class Flag: Sendable {
        private let value = Mutex(false)
        func set() { value.withLock { $0 = true } }
        func withLock<R>(_ body: (inout Bool) -> R) -> R { value.withLock { body(&$0) } }
    }

    func waiting(_ start: TimelineStart, _ policy: StartPolicy, grace: Double = 2) -> (Task<Void, Never>, Flag) {
        let started = Flag()
        let task = Task {
            await start.wait(policy, grace: grace)
            started.set()
        }
        return (task, started)
    }

    /// Lets the waiting task run until it is parked (on the clock or a condition).
    func settle() async {
        for _ in 0..<50 { await Task.yield() }
    }

    @Test func firstMessageStartsAtOnceEvenWithoutASubscription() async {
        let clock = ManualClock()
        let start = TimelineStart(clock: clock)
        let (task, started) = waiting(start, .firstMessage)
        start.connected()
        clock.advance(by: .milliseconds(500))
        await settle()
        #expect(!started.withLock { $0 })
        start.messageReceived()   // a ping, a subscribe: any message
        await task.value
        #expect(clock.elapsed == .milliseconds(500))
    }

    @Test func aSilentClientStartsItTwoSecondsAfterTheFirstConnection() async {
        let clock = ManualClock()
        let start = TimelineStart(clock: clock)
        let (task, started) = waiting(start, .firstMessage)
        clock.advance(by: .seconds(10))   // no client yet: nothing starts
        await settle()
        #expect(!started.withLock { $0 })
        start.connected()                  // at 10 s
        await settle()
        clock.advance(by: .milliseconds(1999))
        await settle()
        #expect(!started.withLock { $0 })
        clock.advance(by: .milliseconds(1))
        await task.value
        #expect(started.withLock { $0 })
    }

    @Test func firstConnectionAndImmediately() async {
        let clock = ManualClock()
        let start = TimelineStart(clock: clock)
        await start.wait(.immediately, grace: 2)
        let (task, started) = waiting(start, .firstConnection)
        await settle()
        #expect(!started.withLock { $0 })
        start.connected()
        await task.value
    }

    @Test func stoppingOrCancellingEndsTheWait() async {
        let start = TimelineStart(clock: ManualClock())
        let (task, _) = waiting(start, .firstMessage)
        await settle()
        task.cancel()
        await task.value
        let (other, _) = waiting(start, .firstConnection)
        await settle()
        start.stop()
        await other.value
    }

    @Test func aScenarioChoosesItsStart() throws {
        let s = try ScenarioLoader().load(text: "scenario: s\nstart: first-connection\nstreams: [{ event: { a: 1 } }]\n", file: "s.yaml")
        #expect(s.startPolicy == .firstConnection)
        #expect(s.epoch == nil)
        let t = try ScenarioLoader().load(text: "scenario: s\nstart: 2025-01-17T10:00:00Z\nstreams: [{ event: { a: 1 } }]\n", file: "s.yaml")
        #expect(t.startPolicy == nil)
        #expect(t.epoch == 1_737_108_000)
        #expect(throws: ScenarioErrors.self) {
            try ScenarioLoader().load(text: "scenario: s\nstart: whenever\nstreams: [{ event: { a: 1 } }]\n", file: "s.yaml")
        }
    }
}
