/// How fast a replay plays the recorded gaps between frames.
public enum ReplaySpeed: Sendable, Hashable, CustomStringConvertible {
    /// Recorded seconds per real second (0.1 to 1000): 2 plays twice as fast.
    case factor(Double)
    /// No gaps at all: every frame goes out as soon as the replay may send it.
    case max

    /// Parses `max` or a number from 0.1 to 1000; `nil` for anything else.
    public init?(_ text: String) {
        if text.lowercased() == "max" {
            self = .max
            return
        }
        guard let n = Double(text), n >= 0.1, n <= 1000 else { return nil }
        self = .factor(n)
    }

    public var description: String {
        switch self {
        case .max: "max"
        case .factor(let f): f == f.rounded() ? "\(Int(f))x" : "\(f)x"
        }
    }

    /// The real duration of a recorded gap of `nanos` nanoseconds.
    public func scale(nanos: Int64) -> Duration {
        guard nanos > 0 else { return .zero }
        switch self {
        case .max: return .zero
        case .factor(let f): return .nanoseconds(Int64((Double(nanos) / f).rounded()))
        }
    }
}
