#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A real clock whose time runs `rate` times faster than real time (`serve --clock-rate 10`):
/// every heartbeat, timeout and timer on it, and the conformance checker's time, scale together,
/// so a client that divides its own delays by the same rate behaves as it would at full length.
///
/// `wallTime` starts at the real wall time and then advances at the same rate, so `now()` and token
/// expiry stay consistent with `elapsed`.
public struct ScaledClock: SimulationClock {
    /// Simulation seconds per real second; greater than zero.
    public let rate: Double
    private let origin: ContinuousClock.Instant
    private let wallOrigin: Double

    /// A clock running `rate` times real time (`rate` is clamped to at least 0.001).
    public init(rate: Double) {
        self.rate = max(rate, 0.001)
        origin = ContinuousClock.now
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        wallOrigin = Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    public var elapsed: Duration { (ContinuousClock.now - origin) * rate }

    public var wallTime: Double {
        let e = elapsed.components
        return wallOrigin + Double(e.seconds) + Double(e.attoseconds) / 1e18
    }

    public func sleep(until deadline: Duration) async throws {
        try await ContinuousClock().sleep(until: origin + deadline / rate, tolerance: nil)
    }
}
