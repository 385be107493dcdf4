import Testing
import TapedeckCore

/// `sleep(until:wake:)`: the deadline or the wake, whichever comes first, on both clocks.
@Suite("Clock wake")
struct ClockWakeTests {
    @Test(.timeLimit(.minutes(1))) func aWakeEndsAManualSleepLongBeforeItsDeadline() async throws {
        let clock = ManualClock()
        let wake = ClockWake()
        async let slept: Void = clock.sleep(until: .seconds(3600), wake: wake)
        wake.wake()
        try await slept
        #expect(clock.elapsed == .zero)
        #expect(clock.sleeperCount == 0, "the woken sleep left the clock's sleepers")
        // Once woken, it stays woken: a later sleep on it returns at once.
        try await clock.sleep(until: .seconds(3600), wake: wake)
    }

    @Test(.timeLimit(.minutes(1))) func withoutAWakeTheManualSleepEndsAtItsDeadline() async throws {
        let clock = ManualClock()
        let wake = ClockWake()
        async let slept: Void = clock.sleep(until: .seconds(5), wake: wake)
        clock.advance(by: .seconds(5))
        try await slept
        #expect(!wake.isWoken)
    }

    @Test(.timeLimit(.minutes(1))) func aWakeEndsARealSleep() async throws {
        let clock = RealClock()
        let wake = ClockWake()
        async let slept: Void = clock.sleep(until: clock.elapsed + .seconds(3600), wake: wake)
        wake.wake()
        try await slept
        #expect(clock.elapsed < .seconds(60))
    }
}
