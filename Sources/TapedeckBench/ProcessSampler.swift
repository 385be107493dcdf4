import Foundation

/// Reads a local process's CPU time and resident memory from `/proc/PID/stat` and `/proc/PID/status`.
public struct ProcessSampler: Sendable {
    /// One reading.
    public struct Sample: Sendable {
        /// User plus system CPU time consumed so far, in seconds.
        public var cpuSeconds: Double
        /// Resident set size in bytes (`VmRSS`).
        public var rssBytes: Int
        /// When it was read (monotonic nanoseconds).
        public var atNanoseconds: Int
    }

    /// The process sampled.
    public let pid: Int32
    private let ticksPerSecond: Double

    public init(pid: Int32) {
        self.pid = pid
        let ticks = sysconf(Int32(_SC_CLK_TCK))
        self.ticksPerSecond = ticks > 0 ? Double(ticks) : 100
    }

    /// The process's CPU time and RSS now, or nil when it cannot be read (the process has gone).
    public func sample() -> Sample? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        else { return nil }
        // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After ')' come field 3 (state) onwards: utime is field 14, stime field 15.
        guard fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        var rss = 0
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kb = Int(parts[1]) { rss = kb * 1024 }
        }
        return Sample(cpuSeconds: (utime + stime) / ticksPerSecond, rssBytes: rss, atNanoseconds: monotonicNow())
    }

    /// CPU use between two samples, in percent of one core.
    public static func cpuPercent(from a: Sample, to b: Sample) -> Double {
        let seconds = Double(b.atNanoseconds - a.atNanoseconds) / 1e9
        return seconds > 0 ? (b.cpuSeconds - a.cpuSeconds) / seconds * 100 : 0
    }

    /// This process's own CPU time (user plus system), in seconds.
    static func ownCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    private func monotonicNow() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int(ts.tv_sec) * 1_000_000_000 + Int(ts.tv_nsec)
    }
}
