import Foundation

/// One progress reading, taken every second while a benchmark runs.
public struct BenchProgress: Sendable {
    /// `ramp` while connections open, then `measure`.
    public var phase: String
    /// Seconds since the first connect.
    public var elapsedSeconds: Double
    /// Connections open now, asked for, and failed so far.
    public var open: Int
    public var requested: Int
    public var failed: Int
    /// Messages and payload bytes per second over the last second.
    public var messagesPerSecond: Double
    public var bytesPerSecond: Double
    /// The target process's CPU over the last second (percent of one core) and its RSS, when sampled.
    public var serverCPUPercent: Double?
    public var serverRSSBytes: Int?

    /// One line for a terminal: `[measure 12s] 1000/1000 open  40,123 msg/s  7.9 MiB/s  server 54% 81.2 MiB`.
    public var line: String {
        var s = "[\(phase) \(fixed(elapsedSeconds, 0))s] \(open)/\(requested) open"
        if failed > 0 { s += " (\(failed) failed)" }
        s += "  \(grouped(Int(messagesPerSecond.rounded()))) msg/s  \(fixed(bytesPerSecond / 1_048_576, 2)) MiB/s"
        if let cpu = serverCPUPercent { s += "  server \(fixed(cpu, 0))%" }
        if let rss = serverRSSBytes { s += " \(mib(rss))" }
        return s
    }
}
