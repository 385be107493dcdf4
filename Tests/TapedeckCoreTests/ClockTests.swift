import Testing
import TapedeckCore

@Suite("Clocks")
struct ClockTests {
    @Test func manualClockWakesSleepersInOrder() async throws {
        let clock = ManualClock(wallOrigin: 1000)
        let woke = AsyncStream<Int>.makeStream()
        let t1 = Task { try await clock.sleep(until: .seconds(2)); woke.continuation.yield(2) }
        let t2 = Task { try await clock.sleep(until: .seconds(1)); woke.continuation.yield(1) }
        while clock.sleeperCount < 2 { await Task.yield() }
        clock.advance(by: .seconds(1))
        var it = woke.stream.makeAsyncIterator()
        #expect(await it.next() == 1)
        #expect(clock.sleeperCount == 1)
        clock.advance(by: .seconds(1))
        #expect(await it.next() == 2)
        #expect(clock.wallTime == 1002)
        _ = try await (t1.value, t2.value)
    }

    @Test func cancellingASleeperThrows() async {
        let clock = ManualClock()
        let t = Task { try await clock.sleep(until: .seconds(60)) }
        while clock.sleeperCount < 1 { await Task.yield() }
        t.cancel()
        await #expect(throws: CancellationError.self) { try await t.value }
    }
}
