/// Timing drift statistics in bounded memory: absolute differences between matched gaps, in
/// log-linear buckets (two significant digits, so percentiles are within 1%).
struct DriftHistogram: Sendable, Hashable {
    private var counts: [Int: Int] = [:]
    private(set) var count = 0
    private(set) var max: Int64 = 0

    mutating func record(_ nanos: Int64) {
        let v = Swift.max(0, nanos)
        counts[Self.bucket(v), default: 0] += 1
        count += 1
        if v > max { max = v }
    }

    /// The value at quantile `q` (0...1), as the upper bound of its bucket (clamped to the maximum).
    func percentile(_ q: Double) -> Int64 {
        guard count > 0 else { return 0 }
        let rank = Swift.max(1, Int((q * Double(count)).rounded(.up)))
        var seen = 0
        for b in counts.keys.sorted() {
            seen += counts[b] ?? 0
            if seen >= rank { return Swift.min(Self.upperBound(b), max) }
        }
        return max
    }

    /// Bucket of a value: values below 100 ns exactly; above, the top two digits and the magnitude.
    static func bucket(_ v: Int64) -> Int {
        if v < 100 { return Int(v) }
        var magnitude = 0
        var top = v
        while top >= 100 {
            top /= 10
            magnitude += 1
        }
        return magnitude * 100 + Int(top)
    }

    static func upperBound(_ b: Int) -> Int64 {
        if b < 100 { return Int64(b) }
        let magnitude = b / 100
        let top = Int64(b % 100)
        var scale: Int64 = 1
        for _ in 0..<magnitude { scale *= 10 }
        return (top + 1) * scale - 1
    }
}

/// Timing of one pair of connections: how much the gaps between matched messages drift.
public struct TimingSummary: Sendable, Hashable {
    /// Matched message pairs measured.
    public var samples: Int
    /// Median absolute drift of a gap, in nanoseconds.
    public var p50Nanos: Int64
    /// 99th percentile absolute drift, in nanoseconds.
    public var p99Nanos: Int64
    /// Largest absolute drift, in nanoseconds.
    public var maxNanos: Int64
    /// Gaps whose drift exceeded the tolerance (0 without a tolerance).
    public var overTolerance: Int

    public init(samples: Int = 0, p50Nanos: Int64 = 0, p99Nanos: Int64 = 0, maxNanos: Int64 = 0, overTolerance: Int = 0) {
        self.samples = samples
        self.p50Nanos = p50Nanos
        self.p99Nanos = p99Nanos
        self.maxNanos = maxNanos
        self.overTolerance = overTolerance
    }

    init(_ h: DriftHistogram, overTolerance: Int) {
        self.init(samples: h.count, p50Nanos: h.percentile(0.5), p99Nanos: h.percentile(0.99), maxNanos: h.max, overTolerance: overTolerance)
    }

    /// `12.3ms`, `850µs`, `2.1s`.
    public static func format(nanos: Int64) -> String {
        let n = Double(nanos)
        if nanos == 0 { return "0ms" }
        if n >= 1e9 { return String(format1: n / 1e9) + "s" }
        if n >= 1e6 { return String(format1: n / 1e6) + "ms" }
        if n >= 1e3 { return String(format1: n / 1e3) + "µs" }
        return "\(nanos)ns"
    }
}

extension String {
    /// One decimal place, without Foundation: `12.3`, `850.0` -> `850`.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(abs(tenths % 10))"
    }
}

extension DriftHistogram {
    /// Adds another histogram's samples.
    mutating func merge(_ other: DriftHistogram) {
        for (b, n) in other.counts { counts[b, default: 0] += n }
        count += other.count
        max = Swift.max(max, other.max)
    }
}
